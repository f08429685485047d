// Exactly-once output (both clients' Transactions) when the broker's reply to a transactional
// request is lost, above all to the end of a transaction: the broker has committed (or aborted)
// it, the engine does not know. A throwaway broker is reached
// through test/kit/kafka-frame-proxy.ts, which cuts the connection instead of delivering an EndTxn
// reply (every retry of it too) until told otherwise. A real broker never produces these paths on
// its own; a network cut right after the request does.
import '../../src/kafka/kafkajs-read-committed.js'; // before kafkajs: fixes its read_committed filter
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { pino, type Logger } from 'pino';
import { Kafka, logLevel } from 'kafkajs';
import { kafkaErrorNames } from '../../src/kafka/kafka-errors.js';
import { PlatformaticTransactions } from '../../src/output/platformatic-transactions.js';
import { TransactionalOutput } from '../../src/output/transactional-output.js';
import type { Transactions } from '../../src/output/exactly-once.js';
import type { OutputRecord } from '../../src/output/sink.js';
import type { CommitEntry } from '../../src/partitions/partition-offsets.js';
import { committedOffsets } from '../kit/audit.js';
import { ApiKey, KafkaFrameProxy } from '../kit/kafka-frame-proxy.js';
import { KafkaBroker } from '../kit/kafka-broker.js';
import { hasKeys, keysOf, readUntil } from '../kit/read-topic.js';
import { uniqueName } from '../kit/services.js';
import { smallRecordTopic } from '../kit/small-record-topic.js';

const T = { timeout: 90_000 };
// The library retries a failed EndTxn itself (each retry's reply is lost too) before the commit fails.
const retry = { initialRetryTime: 50, maxRetryTime: 200, multiplier: 2, retries: 2 };

let broker: KafkaBroker | null = null;
let proxy: KafkaFrameProxy | null = null;
const open: Transactions[] = [];

before(async () => {
  broker = await KafkaBroker.create({ viaProxy: true });
  await broker.start();
  proxy = await KafkaFrameProxy.start(broker.host, broker.proxyPort, broker.host, broker.viaProxyPort);
  await warmUp();
});

/**
 * One whole transaction with offsets, retried until it commits: a new broker's transaction and
 * group coordinators refuse requests for a moment while their internal topics are created and
 * loaded (a TxnOffsetCommit meeting NOT_COORDINATOR would fail a test's transaction before its
 * commit, which is not the path under test).
 */
async function warmUp(): Promise<void> {
  const [input, output] = [uniqueName('warm-in'), uniqueName('warm-out')];
  await createTopics(input, output);
  const tx = new TransactionalOutput(broker!.client(), { transactionalIdPrefix: uniqueName('warm'), groupId: uniqueName('warm-group') }, pino({ level: 'silent' }));
  try {
    await tx.assign(input, 0);
    for (let attempt = 1; ; attempt++) {
      const r = await tx.commit([entry(input, 0, 1, [rec(output, 'warm')])]);
      if (r.committed === 1) return;
      if (attempt === 30) throw new Error(`the test broker's coordinators are not ready: ${r.failed.map(String).join('; ')}`);
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  } finally {
    await tx.close();
  }
}

after(async () => {
  await Promise.all(open.map((tx) => tx.close()));
  await proxy?.close();
  await broker?.destroy();
});

/** A pino logger whose warnings the test reads. */
function capturedLog(): { log: Logger; lines: () => string[] } {
  const lines: string[] = [];
  return { log: pino({ level: 'warn' }, { write: (s: string) => void lines.push(s) }), lines: () => lines };
}

// Their broker is the proxy (the only way the producers reach it); the test's own readers go straight to the broker.
const clients: Record<string, (groupId: string, log: Logger) => Transactions & { pendingRetry: number }> = {
  kafkajs: (groupId, log) =>
    new TransactionalOutput(new Kafka({ clientId: 'scorestream-test', brokers: [broker!.proxiedBrokers], logLevel: logLevel.NOTHING, retry }), { transactionalIdPrefix: uniqueName('lost'), groupId, retry }, log),
  platformatic: (groupId, log) =>
    new PlatformaticTransactions({ clientId: 'scorestream-test', bootstrapBrokers: [broker!.proxiedBrokers], retries: 10, retryDelay: 250 }, { transactionalIdPrefix: uniqueName('lost'), groupId, retry }, log),
};

async function createTopics(...names: string[]): Promise<void> {
  const admin = broker!.client().admin();
  await admin.connect();
  try {
    await admin.createTopics({ waitForLeaders: true, topics: names.map((topic) => ({ topic, numPartitions: 1 })) });
  } finally {
    await admin.disconnect();
  }
}

const rec = (topic: string, key: string, value = `v-${key}`): OutputRecord => ({ topic, key, value });
const entry = (topic: string, partition: number, offset: number, payloads: OutputRecord[]): CommitEntry<OutputRecord> => ({ topic, partition, offset, payloads });

for (const [client, make] of Object.entries(clients)) describe(`${client}: exactly-once output when the reply to EndTxn is lost`, () => {
  const transactions = (groupId: string, log: Logger) => {
    const tx = make(groupId, log);
    open.push(tx);
    return tx;
  };

  test('a commit whose outcome is unknown is reported failed and kept; the next commit commits it again (never aborts it): every record once', T, async () => {
    const input = uniqueName('lost-in');
    const output = uniqueName('lost-out');
    const groupId = uniqueName('lost-group');
    await createTopics(input, output);
    const { log } = capturedLog();
    const tx = transactions(groupId, log);
    await tx.assign(input, 0);

    proxy!.loseReplies(ApiKey.EndTxn);
    const r1 = await tx.commit([entry(input, 0, 3, [rec(output, 'u1'), rec(output, 'u2'), rec(output, 'u3')])]);
    assert.ok(proxy!.lostReplies(ApiKey.EndTxn) >= 1, 'an EndTxn reply was lost');
    assert.equal(r1.committed, 0);
    assert.equal(r1.failed.length, 1);
    assert.equal(tx.pendingRetry, 3, 'kept: its outcome is unknown');
    // The broker did commit it.
    assert.deepEqual(keysOf(await readUntil(broker!.client(), output, hasKeys('u3'))), ['u1', 'u2', 'u3']);
    assert.deepEqual([...(await committedOffsets(groupId, input, broker!.client()))], [[0, 3]]);

    proxy!.deliverReplies(ApiKey.EndTxn);
    const r2 = await tx.commit([entry(input, 0, 4, [rec(output, 'u4')])]);
    assert.deepEqual(r2, { committed: 4, failed: [], fenced: [] }, 'the three found committed, then the new one');
    assert.equal(tx.pendingRetry, 0);
    assert.deepEqual(keysOf(await readUntil(broker!.client(), output, hasKeys('u4'))), ['u1', 'u2', 'u3', 'u4'], 'each once');
    assert.deepEqual([...(await committedOffsets(groupId, input, broker!.client()))], [[0, 4]]);
  });

  test('a failed transaction whose abort reply is lost is aborted again before the next one: none of its records visible, the retried ones once', T, async () => {
    const input = uniqueName('lost-in');
    const output = uniqueName('lost-out');
    const groupId = uniqueName('lost-group');
    await createTopics(input, output);
    const small = await smallRecordTopic(broker!.client(), 2000);
    const { log, lines } = capturedLog();
    const tx = transactions(groupId, log);
    await tx.assign(input, 0);

    proxy!.loseReplies(ApiKey.EndTxn);
    const lostBefore = proxy!.lostReplies(ApiKey.EndTxn);
    // The broker rejects the large record: the transaction fails after a1..a3 were written, and its abort's reply is lost.
    const r1 = await tx.commit([entry(input, 0, 4, [rec(output, 'a1'), rec(output, 'a2'), rec(output, 'a3'), rec(small.name, 'big', 'x'.repeat(5000))])]);
    assert.ok(proxy!.lostReplies(ApiKey.EndTxn) > lostBefore, 'the abort was sent and its reply lost');
    assert.equal(r1.failed.length, 1);
    assert.ok(kafkaErrorNames(r1.failed[0]).some((n) => /MESSAGE_TOO_LARGE|RECORD_LIST_TOO_LARGE/.test(n)), `the transaction's own error, not the abort's: ${String(r1.failed[0])}`);
    assert.equal(tx.pendingRetry, 4);
    assert.ok(lines().some((l) => l.includes('abort failed')), `the failed abort was logged: ${lines().join('')}`);

    proxy!.deliverReplies(ApiKey.EndTxn);
    await small.allow();
    const r2 = await tx.commit([entry(input, 0, 6, [rec(output, 'a4'), rec(output, 'a5')])]);
    assert.deepEqual(r2, { committed: 6, failed: [], fenced: [] });
    assert.equal(tx.pendingRetry, 0);
    const raw = await readUntil(broker!.client(), output, (rs) => rs.length >= 8, { uncommitted: true });
    assert.deepEqual(keysOf(raw), ['a1', 'a2', 'a3', 'a1', 'a2', 'a3', 'a4', 'a5'], 'the failed attempt was written, then aborted');
    assert.deepEqual(keysOf(await readUntil(broker!.client(), output, hasKeys('a5'))), ['a1', 'a2', 'a3', 'a4', 'a5'], 'each once, the retried ones first');
    assert.deepEqual([...(await committedOffsets(groupId, input, broker!.client()))], [[0, 6]]);
  });

  for (const name of ['Produce', 'AddPartitionsToTxn', 'AddOffsetsToTxn', 'TxnOffsetCommit', 'EndTxn'] as const) {
    test(`one lost ${name} reply: every record committed once, with its offset`, T, async () => {
      const input = uniqueName('lost-in');
      const output = uniqueName('lost-out');
      const groupId = uniqueName('lost-group');
      await createTopics(input, output);
      const tx = transactions(groupId, capturedLog().log);
      await tx.assign(input, 0);
      const lostBefore = proxy!.lostReplies(ApiKey[name]);
      proxy!.loseReplies(ApiKey[name], 1);
      try {
        let committed = (await tx.commit([entry(input, 0, 3, [rec(output, 'x1'), rec(output, 'x2'), rec(output, 'x3')])])).committed;
        // Failed rounds are retried by the next commit, as the engine's commit loop does.
        for (let round = 0; tx.pendingRetry > 0 && round < 10; round++) {
          const r = await tx.commit([]);
          assert.deepEqual(r.fenced, []);
          committed += r.committed;
        }
        assert.equal(proxy!.lostReplies(ApiKey[name]), lostBefore + 1, `a ${name} reply was lost`);
        assert.equal(tx.pendingRetry, 0);
        assert.equal(committed, 3);
      } finally {
        proxy!.deliverReplies(ApiKey[name]);
      }
      assert.deepEqual(await tx.commit([entry(input, 0, 4, [rec(output, 'x4')])]), { committed: 1, failed: [], fenced: [] });
      assert.deepEqual(keysOf(await readUntil(broker!.client(), output, hasKeys('x4'))), ['x1', 'x2', 'x3', 'x4'], 'each once');
      assert.deepEqual([...(await committedOffsets(groupId, input, broker!.client()))], [[0, 4]]);
    });
  }
});
