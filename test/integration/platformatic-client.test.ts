// KAFKA_CLIENT=platformatic against the real broker: the source's per-partition pause, resume
// and seek, committed offsets and the commit after stop(); and the sink's key partitioning,
// which must match the kafkajs sink's record for record.
import '../../src/kafka/kafkajs-read-committed.js'; // before kafkajs
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { parseConfig } from '../../src/config/config.js';
import { createKafka } from '../../src/kafka/kafka-client.js';
import { keyPartition } from '../../src/kafka/murmur2.js';
import { platformaticBaseOptions } from '../../src/kafka/platformatic-client.js';
import { KafkaSink } from '../../src/output/kafka-sink.js';
import { PlatformaticSink } from '../../src/output/platformatic-sink.js';
import type { OutputRecord } from '../../src/output/sink.js';
import { KafkaSource } from '../../src/source/kafka-source.js';
import { PlatformaticSource } from '../../src/source/platformatic-source.js';
import type { RawRecord, Source, SourceHandlers, TopicPartition } from '../../src/source/source.js';
import { committedOffsets, readTopic } from '../kit/audit.js';
import { KAFKA_BROKERS, createTopic, kafka, uniqueName } from '../kit/services.js';
import { until } from '../kit/wait.js';

const config = parseConfig([], { KAFKA_BROKERS, KAFKA_CLIENT: 'platformatic', RECONNECT_MAX_MS: '1000' }).config;
const log = pino({ level: 'silent' });
const producer = kafka().producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
let connected = false;
after(async () => {
  if (connected) await producer.disconnect();
});

async function produce(topic: string, partition: number, n: number): Promise<void> {
  if (!connected) await producer.connect();
  connected = true;
  await producer.send({ topic, acks: -1, messages: Array.from({ length: n }, (_, i) => ({ key: `k${i}`, value: `p${partition}-${i}`, partition })) });
}

test('source: a paused partition is not delivered while the others are; resume continues where it stood; seek re-reads; commits work after stop()', { timeout: 90_000 }, async () => {
  const topic = uniqueName('plat-src');
  const groupId = uniqueName('plat-src-g');
  await createTopic(topic, 3);
  await Promise.all([0, 1, 2].map((p) => produce(topic, p, 50)));

  const tp = (partition: number): TopicPartition => ({ topic, partition });
  const got: number[][] = [[], [], []];
  const assignments: number[][] = [];
  let fatal: Error | null = null;
  const source = new PlatformaticSource({ groupId, topic, allowRestart: () => true, client: platformaticBaseOptions(config), retryDelayMs: () => 100, maxBytesPerPartition: 4096 }, log);
  const count = (p: number) => got[p].length;
  try {
    await source.start({
      onBatch(records: RawRecord[], highWatermark?: number) {
        assert.ok(highWatermark !== undefined && highWatermark > records[records.length - 1].offset);
        for (const r of records) {
          assert.equal(r.topic, topic);
          assert.ok(r.timestamp! > 0);
          got[r.partition].push(r.offset);
        }
      },
      onAssignment(tps) {
        assignments.push(tps.map((t) => t.partition));
        // As the engine holds a partition from its assignment on (exactly-once hand-over).
        source.pause([tp(1)]);
      },
      onFatal(err) {
        fatal = err;
      },
    });
    await until(() => count(0) >= 50 && count(2) >= 50, 30_000, 'partitions 0 and 2');
    assert.deepEqual(assignments, [[0, 1, 2]]);
    // Partition 1 was paused before its first fetch: never requested.
    assert.equal(count(1), 0);

    // The others keep fetching while it is paused.
    await produce(topic, 0, 10);
    await until(() => count(0) >= 60, 30_000, 'the new records of partition 0');
    assert.equal(count(1), 0);

    source.resume([tp(1)]);
    await until(() => count(1) >= 50, 30_000, 'partition 1 after resume');
    assert.deepEqual(got[1], Array.from({ length: 50 }, (_, i) => i));

    // Paused while new records arrive in it and in another partition: only the other's come.
    source.pause([tp(2)]);
    await produce(topic, 2, 10);
    await produce(topic, 1, 10);
    await until(() => count(1) >= 60, 30_000, 'the new records of partition 1');
    assert.equal(count(2), 50, 'nothing of the paused partition');
    source.resume([tp(2)]);
    await until(() => count(2) >= 60, 30_000, 'partition 2 after resume');
    assert.deepEqual(got[2], Array.from({ length: 60 }, (_, i) => i), 'resumed from the next undelivered offset, each record once');

    // seek: the partition's next fetch starts there.
    source.seek(tp(0), 5);
    await until(() => count(0) >= 60 + 55, 30_000, 'partition 0 re-read from offset 5');
    assert.deepEqual(got[0].slice(60), Array.from({ length: 55 }, (_, i) => 5 + i));
    assert.deepEqual(got[0].slice(0, 60), Array.from({ length: 60 }, (_, i) => i));

    // A new group has committed nothing: the earliest offset.
    assert.equal(await source.committedOffset(tp(0)), 0);
    await source.commit([{ topic, partition: 0, offset: 42 }]);
    assert.equal(await source.committedOffset(tp(0)), 42);

    // stop() ends fetching but not the membership: the engine's final commit still lands.
    await source.stop();
    await source.commit([{ topic, partition: 1, offset: 60 }, { topic, partition: 2, offset: 60 }]);
    assert.deepEqual([...(await committedOffsets(groupId, topic))].sort((a, b) => a[0] - b[0]), [[0, 42], [1, 60], [2, 60]]);
    assert.equal(fatal, null);
  } finally {
    await source.close();
  }
});

test('sink: every key lands on the same partition as with the kafkajs sink (murmur2, as the Java client)', { timeout: 60_000 }, async () => {
  const PARTITIONS = 7;
  const viaKafkajs = uniqueName('plat-part-kjs');
  const viaPlatformatic = uniqueName('plat-part-plt');
  await createTopic(viaKafkajs, PARTITIONS);
  await createTopic(viaPlatformatic, PARTITIONS);
  const keys = Array.from({ length: 300 }, (_, i) => `user-${i}-${'é'.repeat(i % 3)}`);
  const records = (topic: string): OutputRecord[] => keys.map((key, i) => ({ topic, key, value: JSON.stringify({ i }), headers: { h: 'ü' } }));

  const kjs = new KafkaSink(createKafka(config, log));
  await kjs.connect();
  const plt = new PlatformaticSink(config);
  await plt.connect();
  try {
    await kjs.send(records(viaKafkajs));
    await plt.send(records(viaPlatformatic));
  } finally {
    await Promise.all([kjs.close(), plt.close()]);
  }
  const partitionsOf = async (topic: string) => {
    const m = new Map<string, number>();
    for (const r of (await readTopic(topic)).values()) {
      m.set(r.key!.toString(), r.partition);
      assert.equal(r.headers.h, 'ü');
    }
    return m;
  };
  const a = await partitionsOf(viaKafkajs);
  const b = await partitionsOf(viaPlatformatic);
  assert.equal(b.size, keys.length);
  for (const k of keys) {
    assert.equal(b.get(k), a.get(k), `key ${k}`);
    assert.equal(b.get(k), keyPartition(Buffer.from(k), PARTITIONS));
  }
  assert.ok(new Set(b.values()).size === PARTITIONS, 'the keys spread over every partition');
});

test('source: a kafkajs member and a @platformatic/kafka member share one group (KAFKA_CLIENT can change one instance at a time)', { timeout: 90_000 }, async () => {
  const topic = uniqueName('plat-mixed');
  const groupId = uniqueName('plat-mixed-g');
  await createTopic(topic, 4);
  await Promise.all([0, 1, 2, 3].map((p) => produce(topic, p, 20)));
  const latest: number[][] = [[], []];
  const got = [new Set<string>(), new Set<string>()];
  const handlers = (i: number): SourceHandlers => ({
    onBatch: (records) => {
      for (const r of records) got[i].add(`${r.partition}:${r.offset}`);
    },
    onAssignment: (tps) => (latest[i] = tps.map((t) => t.partition)),
    onFatal: (err) => assert.fail(err),
  });
  const opts = { groupId, topic, allowRestart: () => true };
  const sources: Source[] = [new KafkaSource(createKafka(config, log), opts, log), new PlatformaticSource({ ...opts, client: platformaticBaseOptions(config), retryDelayMs: () => 100 }, log)];
  try {
    await sources[0].start(handlers(0));
    await until(() => latest[0].length === 4, 30_000, 'the kafkajs member owning all 4 partitions');
    await sources[1].start(handlers(1));
    // The group rebalances over both: each owns some, together all, none twice.
    await until(() => latest[0].length > 0 && latest[1].length > 0 && latest[0].length + latest[1].length === 4, 40_000, 'both members assigned');
    assert.deepEqual([...latest[0], ...latest[1]].sort(), [0, 1, 2, 3]);
    // Each reads its own partitions.
    await until(() => latest[1].every((p) => [...Array(20).keys()].every((o) => got[1].has(`${p}:${o}`))), 30_000, 'the platformatic member reading its partitions');
  } finally {
    for (const s of sources) await s.stop();
    await Promise.all(sources.map((s) => s.close()));
  }
});
