import '../../src/kafka/kafkajs-read-committed.js'; // before kafkajs: fixes its read_committed filter
import { Kafka, logLevel, type Message } from 'kafkajs';
import { valueOf, type EncodedEvents } from './workload.js';

/**
 * The harness's Kafka side on kafkajs: one produce request per send (every partition's records in
 * it, values already encoded), and a consumer that fetches with min bytes 1 and a short max wait
 * so it wakes when data arrives, handing each fetched batch's raw values to `onValues`.
 */
export interface HarnessClient {
  send(events: EncodedEvents, from: number, to: number): Promise<void>;
  /** Resolves once the reader is reading; `onValue` gets every value read, as bytes [start, end) of `buf`. */
  startReader(onValue: (buf: Buffer, start: number, end: number) => void): Promise<void>;
  close(): Promise<void>;
}

export async function kafkajsClient(o: { brokers: string[]; inputTopic: string; readTopic: string; groupId: string; partitions: number; fetchWaitMs: number }): Promise<HarnessClient> {
  const kafka = new Kafka({ clientId: 'bench-harness', brokers: o.brokers, logLevel: logLevel.NOTHING });
  // A plain producer, as a client application would have; several sends may be in flight.
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  const consumer = kafka.consumer({ groupId: o.groupId, minBytes: 1, maxWaitTimeInMs: o.fetchWaitMs, sessionTimeout: 30000, heartbeatInterval: 3000 });
  return {
    send(events, from, to) {
      const messages: Message[] = new Array(to - from);
      for (let i = from; i < to; i++) messages[i - from] = { key: events.keys[i], value: valueOf(events, i), partition: events.partitions[i] };
      return producer.send({ topic: o.inputTopic, messages, acks: -1 }).then(() => undefined);
    },
    async startReader(onValue) {
      let joined!: () => void;
      const ready = new Promise<void>((r) => (joined = r));
      consumer.on(consumer.events.GROUP_JOIN, () => joined());
      await consumer.connect();
      await consumer.subscribe({ topic: o.readTopic, fromBeginning: true });
      await consumer.run({
        autoCommit: false,
        partitionsConsumedConcurrently: o.partitions,
        eachBatch: async ({ batch }) => {
          for (const m of batch.messages) if (m.value) onValue(m.value, 0, m.value.length);
        },
      });
      await ready;
    },
    async close() {
      await Promise.allSettled([consumer.disconnect(), producer.disconnect()]);
    },
  };
}
