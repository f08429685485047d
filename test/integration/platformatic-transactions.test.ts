// PlatformaticTransactions (exactly-once on @platformatic/kafka) against the real broker: a
// committed transaction's records and the group's offset appear together to a read_committed
// reader; a failed one is aborted (invisible) and retried; a second instance's assign fences the
// first; a revoked partition's staged records are never committed. "Not visible" is checked up to
// a later committed record of the same output partition (read_committed delivers in offset order),
// never by waiting for nothing to arrive.
import '../../src/kafka/kafkajs-read-committed.js'; // before kafkajs: fixes its read_committed filter
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Consumer, type BaseOptions, type MessagesStream } from '@platformatic/kafka';
import { Partitioners } from 'kafkajs';
import { pino } from 'pino';
import { PlatformaticTransactions, TransactionFailedError, type GroupConsumer } from '../../src/output/platformatic-transactions.js';
import type { OutputRecord } from '../../src/output/sink.js';
import type { CommitEntry } from '../../src/partitions/partition-offsets.js';
import { committedOffsets } from '../kit/audit.js';
import { smallRecordTopic as smallRecordTopicOn } from '../kit/small-record-topic.js';
import { hasKeys, keysOf, readUntil as readTopicUntil, type ReadRecord } from '../kit/read-topic.js';
import { KAFKA_BROKERS, assertServicesReachable, createTopic, kafka, uniqueName } from '../kit/services.js';

const T = { timeout: 90_000 };
const log = pino({ level: 'silent' });
// Retries long enough for a fresh broker, whose transaction and group coordinators answer
// COORDINATOR_NOT_AVAILABLE for a second or two while their internal topics are created.
const base: BaseOptions = { clientId: 'scorestream-test', bootstrapBrokers: KAFKA_BROKERS.split(','), retries: 10, retryDelay: 250 };
const retry = { initialRetryTime: 50, maxRetryTime: 1000, multiplier: 2, retries: 10 };

const readUntil = (topic: string, done: (rs: ReadRecord[]) => boolean, o: { uncommitted?: boolean } = {}) => readTopicUntil(kafka(), topic, done, o);
const has = hasKeys;
const rec = (topic: string, key: string, value = `v-${key}`): OutputRecord => ({ topic, key, value });
const entry = (topic: string, partition: number, offset: number, payloads: OutputRecord[]): CommitEntry<OutputRecord> => ({ topic, partition, offset, payloads });

const smallRecordTopic = (maxBytes: number) => smallRecordTopicOn(kafka(), maxBytes);

const open: PlatformaticTransactions[] = [];
function transactions(prefix: string, groupId: string, consumer?: () => GroupConsumer | undefined): PlatformaticTransactions {
  const tx = new PlatformaticTransactions(base, { transactionalIdPrefix: prefix, groupId, consumer, retry }, log);
  open.push(tx);
  return tx;
}

before(async () => {
  await assertServicesReachable();
});

after(async () => {
  await Promise.all(open.map((tx) => tx.close()));
});

describe('PlatformaticTransactions on the real broker', () => {
  test('a committed transaction: its records (keys placed as kafkajs/Java place them) and the group offset appear together to read_committed', T, async () => {
    const input = uniqueName('ptx-in');
    const output = uniqueName('ptx-out');
    const groupId = uniqueName('ptx-group');
    await createTopic(input, 2);
    await createTopic(output, 3);
    const tx = transactions(uniqueName('ptx'), groupId);
    await Promise.all([tx.assign(input, 0), tx.assign(input, 1)]);

    const p0 = Array.from({ length: 20 }, (_, i) => rec(output, `user-${i}`));
    const p1 = Array.from({ length: 10 }, (_, i) => rec(output, `user-${20 + i}`));
    const r = await tx.commit([entry(input, 0, 10, p0), entry(input, 1, 7, p1)]);
    assert.deepEqual(r, { committed: 30, failed: [], fenced: [] });
    assert.equal(tx.pendingRetry, 0);

    const read = await readUntil(output, (rs) => rs.length >= 30);
    const sent = [...p0, ...p1].map((x) => String(x.key));
    assert.deepEqual(keysOf(read).sort(), [...sent].sort(), 'every record once');
    const meta = [0, 1, 2].map((partitionId) => ({ partitionId, partitionErrorCode: 0, leader: 1, replicas: [1], isr: [1], offlineReplicas: [] }));
    const kafkajsPartition = Partitioners.DefaultPartitioner();
    for (const x of read) assert.equal(x.partition, kafkajsPartition({ topic: output, partitionMetadata: meta, message: { key: x.key, value: null } }), `partition of ${x.key}`);
    // Order within an input partition is kept in each output partition (the two input partitions'
    // records may interleave in any order: only each one's own sequence is promised).
    for (const part of [0, 1, 2]) {
      const got = read.filter((x) => x.partition === part).map((x) => x.key);
      for (const input of [p0, p1]) {
        const keys = input.map((x) => String(x.key));
        assert.deepEqual(got.filter((k) => keys.includes(k)), keys.filter((k) => got.includes(k)), `order in output partition ${part}`);
      }
    }
    assert.deepEqual([...(await committedOffsets(groupId, input))].sort(), [[0, 10], [1, 7]]);
  });

  test("with the group's consumer: its generation goes with the offsets (KIP-447): a stale one is refused, the transaction aborted and retried (not counted as a failure: it is what a rebalance does)", T, async () => {
    const input = uniqueName('ptx-in');
    const output = uniqueName('ptx-out');
    const groupId = uniqueName('ptx-group');
    await createTopic(input, 1);
    await createTopic(output, 1);
    const consumer = new Consumer({ ...base, groupId, sessionTimeout: 10_000, heartbeatInterval: 1000 });
    let stream: MessagesStream<Buffer, Buffer, Buffer, Buffer> | null = null;
    try {
      stream = await consumer.consume({ topics: [input], mode: 'earliest', autocommit: false });
      assert.ok(consumer.memberId, 'the consumer joined');
      const stale: GroupConsumer = { groupId, memberId: consumer.memberId, generationId: consumer.generationId + 1, coordinatorId: consumer.coordinatorId, findGroupCoordinator: () => consumer.findGroupCoordinator() };
      let current: GroupConsumer = stale;
      const tx = transactions(uniqueName('ptx'), groupId, () => current);
      await tx.assign(input, 0);

      const r1 = await tx.commit([entry(input, 0, 3, [rec(output, 'a1'), rec(output, 'a2')])]);
      assert.deepEqual(r1, { committed: 0, failed: [], fenced: [] });
      assert.equal(tx.pendingRetry, 2, 'ILLEGAL_GENERATION: nothing committed, the records wait');

      current = consumer;
      const r2 = await tx.commit([entry(input, 0, 5, [rec(output, 'a3')])]);
      assert.deepEqual(r2, { committed: 3, failed: [], fenced: [] });
      // The aborted first attempt wrote a1, a2 before its offsets failed: in the log, but not read_committed.
      const raw = await readUntil(output, (rs) => rs.length >= 5, { uncommitted: true });
      assert.deepEqual(keysOf(raw), ['a1', 'a2', 'a1', 'a2', 'a3']);
      const read = await readUntil(output, has('a3'));
      assert.deepEqual(keysOf(read), ['a1', 'a2', 'a3']);
      assert.deepEqual([...(await committedOffsets(groupId, input))], [[0, 5]]);
    } finally {
      await stream?.close();
      await consumer.close(true);
    }
  });

  test('a failed transaction is aborted (none of its records visible) and its records are retried first at the next commit', T, async () => {
    const input = uniqueName('ptx-in');
    const output = uniqueName('ptx-out');
    const groupId = uniqueName('ptx-group');
    await createTopic(input, 1);
    await createTopic(output, 1);
    const small = await smallRecordTopic(2000);
    const tx = transactions(uniqueName('ptx'), groupId);
    await tx.assign(input, 0);

    // The broker rejects the large record (over the topic's max.message.bytes): the transaction
    // fails after the others were written.
    const first = [rec(output, 'g1'), rec(output, 'g2'), rec(output, 'g3'), rec(small.name, 'big', 'x'.repeat(5000))];
    const r1 = await tx.commit([entry(input, 0, 4, first)]);
    assert.equal(r1.committed, 0);
    assert.equal(r1.failed.length, 1);
    assert.ok(r1.failed[0] instanceof TransactionFailedError && r1.failed[0].partition === 0 && r1.failed[0].cause, String(r1.failed[0]));
    assert.match(r1.failed[0].message, /MESSAGE_TOO_LARGE|RECORD_LIST_TOO_LARGE/, 'names the Kafka error');
    assert.deepEqual(r1.fenced, []);
    assert.equal(tx.pendingRetry, 4);
    assert.deepEqual([...(await committedOffsets(groupId, input))], [[0, -1]], 'no offset committed');

    await small.allow();
    const r2 = await tx.commit([entry(input, 0, 6, [rec(output, 'g4'), rec(output, 'g5')])]);
    assert.deepEqual(r2, { committed: 6, failed: [], fenced: [] });
    assert.equal(tx.pendingRetry, 0);

    const raw = await readUntil(output, (rs) => rs.length >= 8, { uncommitted: true });
    assert.deepEqual(keysOf(raw), ['g1', 'g2', 'g3', 'g1', 'g2', 'g3', 'g4', 'g5'], 'the failed attempt was written, then aborted');
    const read = await readUntil(output, has('g5'));
    assert.deepEqual(keysOf(read), ['g1', 'g2', 'g3', 'g4', 'g5'], 'each once, the retried ones first');
    assert.deepEqual(keysOf(await readUntil(small.name, has('big'))), ['big']);
    assert.deepEqual([...(await committedOffsets(groupId, input))], [[0, 6]]);
  });

  test("a second instance's assign fences the first: its next commit reports the partition fenced and none of its records appear; assigning again takes it back", T, async () => {
    const input = uniqueName('ptx-in');
    const output = uniqueName('ptx-out');
    const groupId = uniqueName('ptx-group');
    const prefix = uniqueName('ptx');
    await createTopic(input, 2);
    await createTopic(output, 1);
    const a = transactions(prefix, groupId);
    const b = transactions(prefix, groupId);
    await Promise.all([a.assign(input, 0), a.assign(input, 1)]);
    assert.deepEqual(await a.commit([entry(input, 0, 2, [rec(output, 'a1'), rec(output, 'a2')])]), { committed: 2, failed: [], fenced: [] });

    await b.assign(input, 0);
    const r = await a.commit([entry(input, 0, 4, [rec(output, 'a3'), rec(output, 'a4')]), entry(input, 1, 1, [rec(output, 'a-p1')])]);
    assert.deepEqual(r.fenced, [{ topic: input, partition: 0 }]);
    assert.deepEqual(r.failed, []);
    assert.equal(r.committed, 1, 'partition 1, not fenced, still commits');
    assert.equal(a.pendingRetry, 0, 'the fenced partition was dropped');
    assert.deepEqual(await b.commit([entry(input, 0, 4, [rec(output, 'b3'), rec(output, 'b4')])]), { committed: 2, failed: [], fenced: [] });

    // A takes it back (a retake / new assignment): now B is the zombie.
    await a.assign(input, 0);
    const rb = await b.commit([entry(input, 0, 5, [rec(output, 'b5')])]);
    assert.deepEqual(rb.fenced, [{ topic: input, partition: 0 }]);
    assert.deepEqual(await a.commit([entry(input, 0, 5, [rec(output, 'a5')])]), { committed: 1, failed: [], fenced: [] });

    const read = await readUntil(output, has('a5'));
    assert.deepEqual(keysOf(read).sort(), ['a-p1', 'a1', 'a2', 'a5', 'b3', 'b4'].sort());
    assert.deepEqual([...(await committedOffsets(groupId, input))].sort(), [[0, 5], [1, 1]]);
  });

  test('a revoked partition: its pending records are never committed, its later entries are ignored', T, async () => {
    const input = uniqueName('ptx-in');
    const output = uniqueName('ptx-out');
    const groupId = uniqueName('ptx-group');
    const prefix = uniqueName('ptx');
    await createTopic(input, 1);
    await createTopic(output, 1);
    const small = await smallRecordTopic(2000);
    const a = transactions(prefix, groupId);
    await a.assign(input, 0);
    const r1 = await a.commit([entry(input, 0, 3, [rec(output, 'r1'), rec(output, 'r2'), rec(small.name, 'big', 'x'.repeat(5000))])]);
    assert.equal(r1.failed.length, 1);
    assert.equal(a.pendingRetry, 3);

    await small.allow();
    a.revoke(input, 0);
    assert.equal(a.pendingRetry, 0);
    assert.deepEqual(await a.commit([]), { committed: 0, failed: [], fenced: [] });
    assert.deepEqual(await a.commit([entry(input, 0, 5, [rec(output, 'r3')])]), { committed: 0, failed: [], fenced: [] });

    // The next owner commits from the group's offset (none yet).
    const b = transactions(prefix, groupId);
    await b.assign(input, 0);
    assert.deepEqual(await b.commit([entry(input, 0, 3, [rec(output, 'n1')])]), { committed: 1, failed: [], fenced: [] });
    const read = await readUntil(output, has('n1'));
    assert.deepEqual(keysOf(read), ['n1']);
    assert.deepEqual([...(await committedOffsets(groupId, input))], [[0, 3]]);
  });
});
