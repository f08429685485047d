import '../kafka/kafkajs-read-committed.js'; // before kafkajs: fixes its read_committed filter
import { Partitioners, type Kafka, type Message, type Producer, type TopicMessages } from 'kafkajs';
import type { OutputRecord, Sink } from './sink.js';
import { ScorestreamError } from '../shared/errors.js';

/** A send named a topic the broker does not have (and will not auto-create). Retried: creating the topic resumes output. */
export class MissingTopicError extends ScorestreamError {
  constructor(readonly topics: string[], options: { cause: unknown }) {
    super(`topic ${topics.join(', ')} does not exist on the broker (and it does not auto-create topics): create it; outputs wait and are re-sent`, options);
  }
}

/** kafkajs's error for a missing topic, anywhere along the cause chain (retries wrap it). */
function isUnknownTopic(err: unknown): boolean {
  for (let e = err as { type?: string; cause?: unknown; originalError?: unknown } | undefined, i = 0; e && i < 5; i++) {
    if (e.type === 'UNKNOWN_TOPIC_OR_PARTITION') return true;
    e = (e.originalError ?? e.cause) as typeof e;
  }
  return false;
}

/**
 * Records grouped by topic as kafkajs messages. An OutputRecord already has kafkajs's message
 * fields (key, value, headers; kafkajs ignores `topic`), so records are passed as they are: no
 * copy per output. The usual send is one topic (predictions only): no grouping then.
 */
export function toTopicMessages(records: OutputRecord[]): TopicMessages[] {
  const first = records[0]?.topic;
  let one = true;
  for (let i = 1; i < records.length && one; i++) one = records[i].topic === first;
  if (one) return records.length ? [{ topic: first, messages: records as Message[] }] : [];
  const byTopic = new Map<string, Message[]>();
  for (const r of records) {
    let msgs = byTopic.get(r.topic);
    if (!msgs) byTopic.set(r.topic, (msgs = []));
    msgs.push(r as Message);
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
    const topicMessages = toTopicMessages(records);
    try {
      await this.producer.sendBatch({ topicMessages, acks: -1 });
    } catch (err) {
      if (isUnknownTopic(err)) throw new MissingTopicError(topicMessages.map((t) => t.topic), { cause: err });
      throw err;
    }
  }

  async close(): Promise<void> {
    await this.producer.disconnect();
  }
}
