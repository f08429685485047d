// Baseline (b): what a typical Node service does per message: one Redis round trip (the same
// feature script the engine uses, one key), one session.run on one row (the same model), one
// produce, all awaited in eachMessage on one thread. Same broker, Redis and model as the engine.
import '../../src/kafka/kafkajs-read-committed.js'; // before kafkajs: fixes its read_committed filter
import { readFileSync } from 'node:fs';
import { Kafka, logLevel } from 'kafkajs';
import { Redis } from 'ioredis';
import { guardField } from '../../src/features/feature-store.js';
import { ModelSession } from '../../workers/model-session.js';
import { BASELINE_READY_LINE } from '../target-process.js';

const brokers = (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',');
const input = process.env.INPUT_TOPIC!;
const output = process.env.OUTPUT_TOPIC!;
const groupId = process.env.KAFKA_GROUP_ID!;
const prefix = process.env.REDIS_KEY_PREFIX ?? 'ss:u:';
const ttl = Number(process.env.FEATURE_TTL_SECONDS ?? 86400);
const modelPath = process.env.MODEL_PATH ?? 'models/model.onnx';
const CODES: Record<string, number> = { view: 0, add_to_cart: 1, purchase: 2 };

const model = await ModelSession.load(modelPath);
const cs = model.meta.cold_start;
const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
redis.defineCommand('features', { numberOfKeys: 1, lua: readFileSync('src/features/feature-update.lua', 'utf8') });
const features = (redis as unknown as { featuresBuffer(...args: (string | number)[]): Promise<Buffer> }).featuresBuffer.bind(redis);

const kafka = new Kafka({ clientId: 'bench-naive', brokers, logLevel: logLevel.NOTHING });
const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 100, sessionTimeout: 30000, heartbeatInterval: 3000 });
const producer = kafka.producer();

consumer.on(consumer.events.GROUP_JOIN, () => process.stdout.write(`${BASELINE_READY_LINE}\n`));
await producer.connect();
await consumer.connect();
await consumer.subscribe({ topic: input, fromBeginning: true });
await consumer.run({
  eachMessage: async ({ topic, partition, message }) => {
    const ev = JSON.parse(message.value!.toString()) as { user_id: string; product_id: string; event_type: string; timestamp_ms: number };
    const buf = await features(prefix + ev.user_id, ttl, cs[0], cs[1], cs[2], cs[3], 1440, CODES[ev.event_type], ev.timestamp_ms, guardField(`${topic}:${partition}`), message.offset);
    const row = new Float32Array([buf.readFloatLE(0), buf.readFloatLE(4), buf.readFloatLE(8), buf.readFloatLE(12)]);
    const [p] = await model.score(row, 1);
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
  redis.disconnect();
  process.exit(0);
};
process.on('SIGTERM', () => void stop());
process.on('SIGINT', () => void stop());
