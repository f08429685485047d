// Baseline (a'): the pass-through of passthrough.ts on @platformatic/kafka instead of kafkajs, so
// the two Kafka clients are compared side by side in the same run (issue 13: a second client is
// worth an opt-in only if it drains ≥ 1.5× faster or cuts p99 at 1,000/s by ≥ 30 %). Same
// settings as far as the client has them: idempotent producer with acks=all, one produce in
// flight (what arrives meanwhile forms the next), offsets committed every 100 ms.
import { Consumer, Producer, type Message, type MessageToProduce } from '@platformatic/kafka';
import { BASELINE_READY_LINE } from '../target-process.js';

const brokers = (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',');
const input = process.env.INPUT_TOPIC!;
const output = process.env.OUTPUT_TOPIC!;
const groupId = process.env.KAFKA_GROUP_ID!;
/** Pause the stream with this many records waiting for the producer (bounded memory in a backlog). */
const HIGH_WATER = 20_000;
/** Records per produce request: well under the broker's 1 MiB message.max.bytes (~150-byte values). */
const MAX_SEND = 2_000;

const base = { clientId: 'bench-passthrough-platformatic', bootstrapBrokers: brokers };
const producer = new Producer({ ...base, idempotent: true, acks: -1, autocreateTopics: false });
const consumer = new Consumer({ ...base, groupId, sessionTimeout: 30000, heartbeatInterval: 3000 });

const stream = await consumer.consume({ topics: [input], mode: 'earliest', autocommit: 100, minBytes: 1, maxWaitTime: 100 });
process.stdout.write(`${BASELINE_READY_LINE}\n`);

let queue: MessageToProduce[] = [];
let sending = false;
async function pump(): Promise<void> {
  sending = true;
  while (queue.length > 0) {
    const messages = queue.length <= MAX_SEND ? queue : queue.slice(0, MAX_SEND);
    queue = messages === queue ? [] : queue.slice(MAX_SEND);
    if (stream.isPaused() && queue.length < HIGH_WATER) stream.resume();
    await producer.send({ messages });
  }
  sending = false;
}

stream.on('data', (m: Message) => {
  queue.push({ topic: output, key: m.key, value: m.value });
  if (queue.length >= HIGH_WATER) stream.pause();
  if (!sending) void pump().catch((err: Error) => {
    const causes = (err as AggregateError).errors?.map((e: Error) => e.message).join('; ') ?? '';
    process.stderr.write(`produce failed: ${err.stack ?? err.message} ${causes}\n`);
    process.exit(1);
  });
});
stream.on('error', (err: Error) => {
  process.stderr.write(`consume failed: ${err.stack ?? err.message}\n`);
  process.exit(1);
});

const stop = async () => {
  await Promise.allSettled([consumer.close(true), producer.close()]);
  process.exit(0);
};
process.on('SIGTERM', () => void stop());
process.on('SIGINT', () => void stop());
