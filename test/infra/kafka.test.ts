// Round trip through the real broker: 1,000 keyed JSON events into a fresh
// 4-partition topic, read back by a fresh consumer group.
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { assertServicesReachable, createTopic, kafka, uniqueName } from '../kit/services.js';

interface Event {
  userId: string;
  seq: number;
  amount: number;
  ts: number;
}

const COUNT = 1_000;
const PARTITIONS = 4;

before(async () => {
  await assertServicesReachable();
});

test('produces 1,000 keyed JSON events and consumes every one back intact', { timeout: 60_000 }, async () => {
  const topic = uniqueName('infra-roundtrip');
  const groupId = uniqueName('infra-roundtrip-group');
  await createTopic(topic, PARTITIONS);

  const sent = new Map<string, Event>();
  for (let seq = 0; seq < COUNT; seq++) {
    const event: Event = { userId: `user-${seq % 37}`, seq, amount: seq * 1.25, ts: 1_700_000_000_000 + seq };
    sent.set(`${event.userId}:${seq}`, event);
  }

  const client = kafka();
  const producer = client.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  try {
    const messages = [...sent].map(([key, event]) => ({ key, value: JSON.stringify(event) }));
    for (let i = 0; i < messages.length; i += 250) {
      await producer.send({ topic, acks: -1, messages: messages.slice(i, i + 250) });
    }
  } finally {
    await producer.disconnect();
  }

  const received = new Map<string, { event: Event; partition: number }>();
  let duplicates = 0;
  const partitionsSeen = new Set<number>();
  // Short fetch wait: disconnect() waits for the in-flight fetch (default 5 s).
  const consumer = client.consumer({ groupId, maxWaitTimeInMs: 250 });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`only ${received.size} of ${COUNT} events consumed within 30 s`)),
        30_000,
      );
      const done = () => {
        clearTimeout(timer);
        resolve();
      };
      consumer
        .run({
          eachMessage: async ({ partition, message }) => {
            const key = message.key?.toString() ?? '';
            if (received.has(key)) duplicates++;
            received.set(key, { event: JSON.parse(message.value?.toString() ?? 'null') as Event, partition });
            partitionsSeen.add(partition);
            if (received.size === COUNT) done();
          },
        })
        .catch(reject);
    });
    // Give a stray extra delivery a chance to show up before counting.
    await new Promise((r) => setTimeout(r, 500));
  } finally {
    await consumer.disconnect();
  }

  assert.equal(received.size, COUNT);
  assert.equal(duplicates, 0, 'no message delivered twice');
  for (const [key, event] of sent) {
    assert.deepEqual(received.get(key)?.event, event, `event for key ${key}`);
  }
  // 1,000 distinct keys hash onto every partition.
  assert.equal(partitionsSeen.size, PARTITIONS);
});
