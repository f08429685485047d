import { Producer, type MessageToProduce } from '@platformatic/kafka';
import { OUTPUT_SERIALIZERS, javaCompatiblePartitioner, platformaticBaseOptions, type PlatformaticSettings } from '../kafka/platformatic-client.js';
import { MissingTopicError } from './kafka-sink.js';
import type { OutputRecord, Sink } from './sink.js';

type Bytes = string | Buffer;

/**
 * The library's error for a topic the broker does not have. 1.35 turns the metadata response's
 * UNKNOWN_TOPIC_OR_PARTITION into a plain UserError whose message names the topic and drops the
 * protocol error, so the message is all there is to go by (a produce that meets the code itself
 * still carries it as a protocol error).
 */
function isUnknownTopic(err: unknown): boolean {
  const e = err as { code?: string; message?: string; findBy?: (k: string, v: unknown) => unknown };
  if (e?.findBy?.('apiId', 'UNKNOWN_TOPIC_OR_PARTITION')) return true;
  return e?.code === 'PLT_KFK_USER' && typeof e.message === 'string' && e.message.startsWith('Unknown topic ');
}

/**
 * At-least-once Kafka sink on @platformatic/kafka (KAFKA_CLIENT=platformatic), as KafkaSink is
 * on kafkajs: an idempotent producer, acks from all in-sync replicas, one request in flight per
 * connection (the caller sends one batch at a time, so order holds across retries), and keys
 * partitioned as the Java client does.
 */
export class PlatformaticSink implements Sink {
  private readonly producer: Producer<Bytes, Bytes, Bytes, Bytes>;

  constructor(c: PlatformaticSettings) {
    this.producer = new Producer<Bytes, Bytes, Bytes, Bytes>({
      ...platformaticBaseOptions(c),
      idempotent: true,
      acks: -1,
      maxInflights: 1,
      // As kafkajs's allowAutoTopicCreation: a broker that auto-creates topics creates the output ones.
      autocreateTopics: true,
      partitioner: javaCompatiblePartitioner(),
      serializers: OUTPUT_SERIALIZERS,
    });
  }

  /** Registers the idempotent producer id now, so the first send does not pay for it. */
  async connect(): Promise<void> {
    await this.producer.initIdempotentProducer({});
  }

  async send(records: OutputRecord[]): Promise<void> {
    if (records.length === 0) return;
    try {
      // An OutputRecord has the library's message fields (topic, key, value, headers): passed as they are.
      await this.producer.send({ messages: records as MessageToProduce<Bytes, Bytes, Bytes, Bytes>[] });
    } catch (err) {
      if (isUnknownTopic(err)) throw new MissingTopicError([...new Set(records.map((r) => r.topic))], { cause: err });
      throw err;
    }
  }

  async close(): Promise<void> {
    await this.producer.close();
  }
}
