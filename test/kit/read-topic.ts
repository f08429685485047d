// Reads a topic from the beginning with a fresh group until a condition holds for what was read:
// "not visible" is then checked up to a later record of the same partition (consumers deliver in
// offset order), never by waiting for nothing to arrive.
import type { Kafka } from 'kafkajs';
import { uniqueName } from './services.js';

export interface ReadRecord {
  partition: number;
  offset: number;
  key: string;
  value: string;
}

/** Reads `topic` from the beginning (read_committed unless told) until `done` holds for what was read. */
export async function readUntil(kafka: Kafka, topic: string, done: (rs: ReadRecord[]) => boolean, o: { uncommitted?: boolean; timeoutMs?: number } = {}): Promise<ReadRecord[]> {
  const consumer = kafka.consumer({ groupId: uniqueName('reader'), readUncommitted: o.uncommitted ?? false, maxWaitTimeInMs: 100 });
  await consumer.connect();
  const out: ReadRecord[] = [];
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`read ${out.length} records of ${topic} without the expected ones: ${out.map((r) => r.key).join(',')}`)), o.timeoutMs ?? 30_000);
      consumer
        .run({
          eachMessage: async ({ partition, message }) => {
            out.push({ partition, offset: Number(message.offset), key: String(message.key), value: String(message.value) });
            if (done(out)) {
              clearTimeout(timer);
              resolve();
            }
          },
        })
        .catch(reject);
    });
  } finally {
    await consumer.disconnect();
  }
  return out;
}

/** A `done` for readUntil: every one of these keys was read. */
export const hasKeys =
  (...keys: string[]) =>
  (rs: ReadRecord[]): boolean =>
    keys.every((k) => rs.some((r) => r.key === k));

export const keysOf = (rs: ReadRecord[]): string[] => rs.map((r) => r.key);
