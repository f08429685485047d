import '../kafka/kafkajs-read-committed.js'; // before kafkajs: fixes its read_committed filter
import { Partitioners, type Kafka, type Message, type Producer, type TopicMessages } from 'kafkajs';
import type { OutputRecord, Sink } from './sink.js';

export function toTopicMessages(records: OutputRecord[]): TopicMessages[] {
  const byTopic = new Map<string, Message[]>();
  for (const r of records) {
    let msgs = byTopic.get(r.topic);
    if (!msgs) byTopic.set(r.topic, (msgs = []));
    msgs.push({ key: r.key, value: r.value, headers: r.headers });
  }
  return [...byTopic].map(([topic, messages]) => ({ topic, messages }));
}

/** At-least-once Kafka sink: an idempotent producer, acks from all in-sync replicas. */
export class KafkaSink implements Sink {
  private readonly producer: Producer;

  constructor(kafka: Kafka) {
    // Idempotence makes kafkajs's own retries duplicate-free; one request in flight keeps order.
    // Java-compatible murmur2 partitioning of the user-id key: a user's predictions land on the
    // same output partition as any Java/Kafka Streams consumer would expect.
    this.producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: true, createPartitioner: Partitioners.DefaultPartitioner });
  }

  async connect(): Promise<void> {
    await this.producer.connect();
  }

  async send(records: OutputRecord[]): Promise<void> {
    if (records.length === 0) return;
    await this.producer.sendBatch({ topicMessages: toTopicMessages(records), acks: -1 });
  }

  async close(): Promise<void> {
    await this.producer.disconnect();
  }
}
