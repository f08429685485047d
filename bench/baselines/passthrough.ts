// Baseline (a): kafkajs pass-through. Consume → produce the same value, no work at all: the
// ceiling the Kafka client itself sets on this machine. Same client settings as the engine
// (consumer maxWait 100 ms, idempotent producer with acks=all, manual-style batch handling).
// The value goes out unchanged: the bench matches it to its input by its product_id, as it does the engine's predictions.
import '../../src/kafka/kafkajs-read-committed.js'; // before kafkajs: fixes its read_committed filter
import { Kafka, logLevel } from 'kafkajs';
import { BASELINE_READY_LINE } from '../target-process.js';

const brokers = (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',');
const input = process.env.INPUT_TOPIC!;
const output = process.env.OUTPUT_TOPIC!;
const groupId = process.env.KAFKA_GROUP_ID!;

const kafka = new Kafka({ clientId: 'bench-passthrough', brokers, logLevel: logLevel.NOTHING });
const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 100, sessionTimeout: 30000, heartbeatInterval: 3000 });
const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });

consumer.on(consumer.events.GROUP_JOIN, () => process.stdout.write(`${BASELINE_READY_LINE}\n`));
await producer.connect();
await consumer.connect();
await consumer.subscribe({ topic: input, fromBeginning: true });
await consumer.run({
  autoCommit: true,
  autoCommitInterval: 100,
  partitionsConsumedConcurrently: 4,
  eachBatch: async ({ batch }) => {
    await producer.send({ topic: output, acks: -1, messages: batch.messages.map((m) => ({ key: m.key, value: m.value })) });
  },
});

const stop = async () => {
  await consumer.disconnect().catch(() => {});
  await producer.disconnect().catch(() => {});
  process.exit(0);
};
process.on('SIGTERM', () => void stop());
process.on('SIGINT', () => void stop());
