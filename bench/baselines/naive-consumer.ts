// Baseline (b): what a typical Node service does per message: one Redis round trip (the engine's
// own feature store and script, for the model's declared features, on a batch of one), one
// session.run on one row (the same model), one produce, all awaited in eachMessage on one thread.
// Same broker, Redis and model as the engine.
import '../../src/kafka/kafkajs-read-committed.js'; // before kafkajs: fixes its read_committed filter
import { Kafka, logLevel } from 'kafkajs';
import { EVENT_TYPE_CODE } from '../../src/ingest/event.js';
import { newFeatureBatch } from '../../src/features/feature-store.js';
import { loadFeatureSet } from '../../src/features/feature-set.js';
import { RedisFeatureStore } from '../../src/features/redis-feature-store.js';
import { ModelSession } from '../../workers/model-session.js';
import { BASELINE_READY_LINE } from '../target-process.js';

const brokers = (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',');
const input = process.env.INPUT_TOPIC!;
const output = process.env.OUTPUT_TOPIC!;
const groupId = process.env.KAFKA_GROUP_ID!;
const modelPath = process.env.MODEL_PATH ?? 'models/model.onnx';
const metaPath = process.env.MODEL_META_PATH || modelPath.replace(/[^/]*$/, 'model.json');

const model = await ModelSession.load(modelPath, metaPath);
const store = new RedisFeatureStore({
  url: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
  keyPrefix: process.env.REDIS_KEY_PREFIX ?? 'ss:u:',
  ttlSeconds: Number(process.env.FEATURE_TTL_SECONDS ?? 86400),
  commandTimeoutMs: 1000,
  reconnect: { initialMs: 100, maxMs: 500, multiplier: 2 },
  featureSet: loadFeatureSet(metaPath),
});
await store.connect();

const kafka = new Kafka({ clientId: 'bench-naive', brokers, logLevel: logLevel.NOTHING });
const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 100, sessionTimeout: 30000, heartbeatInterval: 3000 });
const producer = kafka.producer();

consumer.on(consumer.events.GROUP_JOIN, () => process.stdout.write(`${BASELINE_READY_LINE}\n`));
await producer.connect();
await consumer.connect();
await consumer.subscribe({ topic: input, fromBeginning: true });
await consumer.run({
  eachMessage: async ({ topic, partition, message }) => {
    const ev = JSON.parse(message.value!.toString()) as { user_id: string; product_id: string; category: string; event_type: keyof typeof EVENT_TYPE_CODE; timestamp_ms: number };
    const batch = newFeatureBatch(1);
    batch.userIds[0] = ev.user_id;
    batch.codes[0] = EVENT_TYPE_CODE[ev.event_type];
    batch.categories[0] = ev.category;
    batch.timestamps[0] = ev.timestamp_ms;
    batch.sources[0] = `${topic}:${partition}`;
    batch.offsets[0] = Number(message.offset);
    const { features } = await store.updateAndRead(batch);
    const [p] = await model.score(features, 1);
    await producer.send({
      topic: output,
      messages: [
        {
          key: ev.user_id,
          value: JSON.stringify({ user_id: ev.user_id, product_id: ev.product_id, prediction: p, event_time: ev.timestamp_ms, processing_time: Date.now(), model_version: model.version, fallback: false, source: { topic, partition, offset: Number(message.offset) } }),
        },
      ],
    });
  },
});

const stop = async () => {
  await consumer.disconnect().catch(() => {});
  await producer.disconnect().catch(() => {});
  await store.close();
  process.exit(0);
};
process.on('SIGTERM', () => void stop());
process.on('SIGINT', () => void stop());
