import { Consumer, Producer, type Message, type MessageToProduce } from '@platformatic/kafka';
import type { HarnessClient } from './kafkajs-client.js';
import { valueOf } from './workload.js';

/**
 * The harness's Kafka side on @platformatic/kafka (a dev dependency used by the bench only; the
 * engine and the baselines run kafkajs): one produce request per send with every partition's
 * records in it, values already encoded; the reader's stream fetches with min bytes 1 and a short
 * max wait and keeps fetching while values are handled, so it wakes when data arrives.
 */
export async function platformaticClient(o: { brokers: string[]; inputTopic: string; readTopic: string; groupId: string; fetchWaitMs: number }): Promise<HarnessClient> {
  const base = { clientId: 'bench-harness', bootstrapBrokers: o.brokers };
  const producer = new Producer({ ...base, idempotent: false, acks: -1, autocreateTopics: false });
  const consumer = new Consumer({ ...base, groupId: o.groupId, sessionTimeout: 30000, heartbeatInterval: 3000 });
  return {
    send(events, from, to) {
      const messages: MessageToProduce[] = new Array(to - from);
      for (let i = from; i < to; i++) messages[i - from] = { topic: o.inputTopic, key: events.keys[i], value: valueOf(events, i), partition: events.partitions[i] };
      return producer.send({ messages }).then(() => undefined);
    },
    async startReader(onValue) {
      const stream = await consumer.consume({ topics: [o.readTopic], mode: 'earliest', autocommit: false, minBytes: 1, maxWaitTime: o.fetchWaitMs });
      stream.on('data', (m: Message) => {
        if (m.value) onValue(m.value, 0, m.value.length);
      });
      stream.on('error', () => {
        // The harness reports what it did not read back as unfinished; nothing to add here.
      });
    },
    async close() {
      await Promise.allSettled([consumer.close(true), producer.close()]);
    },
  };
}
