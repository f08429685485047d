import '../kafka/kafkajs-read-committed.js'; // before kafkajs: fixes its read_committed filter
import { Partitioners, type Kafka, type Producer, type RetryOptions } from 'kafkajs';
import { toTopicMessages } from './kafka-sink.js';
import type { Logger } from '../ops/logger.js';
import { isFencedError } from '../kafka/kafka-errors.js';
import type { CommitEntry } from '../partitions/partition-offsets.js';
import type { Transactions, TransactionsResult } from './exactly-once.js';
import { tpKey, type TopicPartition } from '../source/source.js';
import { sendSize, type OutputRecord } from './sink.js';

export interface TransactionalOutputOptions {
  transactionalIdPrefix: string;
  groupId: string;
  /**
   * The producers' retry policy. Its first wait should be short: a transaction that starts while
   * the coordinator still writes the previous one's markers gets CONCURRENT_TRANSACTIONS, which
   * clears in milliseconds, and kafkajs retries it (inside sendBatch) after the initial retry time.
   * The Java client waits 20 ms there; the engine-wide 100 ms made it the largest part of a round.
   */
  retry?: RetryOptions;
}

interface PartitionTx {
  topic: string;
  partition: number;
  producer: Producer;
  ready: Promise<void>;
  /** Records of a failed transaction, retried first in the next one. */
  retry: OutputRecord[];
  retryOffset: number;
  fenced: boolean;
}

/**
 * Exactly-once output. An event's output is staged on its offset (done = staged); every commit
 * interval, each partition's contiguous staged prefix is written in one transaction together
 * with the consumed offset. One transactional producer per input partition
 * (`<prefix>-<topic>-<partition>`): kafkajs sends no group generation with the offsets
 * (no KIP-447), so zombie fencing rests on the transactional id, which follows the partition.
 */
export class TransactionalOutput implements Transactions {
  private readonly txs = new Map<string, PartitionTx>();

  constructor(private readonly kafka: Kafka, private readonly opts: TransactionalOutputOptions, private readonly log: Logger) {}

  /**
   * Creates (and fences any zombie of) the producer of a newly assigned partition. Resolves once
   * it is initialised: the previous owner's open transaction is then committed or aborted, and
   * the group's committed offset of the partition is final.
   */
  assign(topic: string, partition: number): Promise<void> {
    const key = tpKey(topic, partition);
    const existing = this.txs.get(key);
    if (existing && !existing.fenced) return existing.ready;
    const producer = this.kafka.producer({
      transactionalId: `${this.opts.transactionalIdPrefix}-${topic}-${partition}`,
      idempotent: true,
      retry: this.opts.retry,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: true,
      createPartitioner: Partitioners.DefaultPartitioner,
    });
    // kafkajs's connect() only gets a non-transactional producer id; the transactional
    // InitProducerId (the call that fences the previous owner and settles its open transaction)
    // waits for the first transaction(). An empty transaction forces it now (ending it sends nothing).
    const ready = producer.connect().then(async () => {
      const t = await producer.transaction();
      await t.abort();
    });
    const tx: PartitionTx = { topic, partition, producer, ready, retry: [], retryOffset: -1, fenced: false };
    tx.ready.catch((err) => this.log.error({ err, partition }, 'transactional producer failed to connect'));
    this.txs.set(key, tx);
    return tx.ready;
  }

  /** Drops a revoked partition: its uncommitted records are never committed by this instance. */
  revoke(topic: string, partition: number): void {
    const key = tpKey(topic, partition);
    const tx = this.txs.get(key);
    if (!tx) return;
    this.txs.delete(key);
    void tx.ready.then(() => tx.producer.disconnect()).catch(() => {});
  }

  /** Commits one transaction per partition with staged output. Failed ones are retried next time. */
  async commit(entries: CommitEntry<OutputRecord>[]): Promise<TransactionsResult> {
    const byKey = new Map(entries.map((e) => [tpKey(e.topic, e.partition), e]));
    // Partitions with only a pending retry commit too.
    for (const [key, tx] of this.txs) if (!byKey.has(key) && tx.retry.length) byKey.set(key, { topic: tx.topic, partition: tx.partition, offset: tx.retryOffset, payloads: [] });
    const failed: Error[] = [];
    const fenced: TopicPartition[] = [];
    let committed = 0;
    await Promise.all(
      [...byKey].map(async ([key, e]) => {
        const tx = this.txs.get(key);
        if (!tx) return;
        const records = tx.retry.length ? tx.retry.concat(e.payloads) : e.payloads;
        const offset = Math.max(e.offset, tx.retryOffset);
        try {
          await tx.ready;
          const t = await tx.producer.transaction();
          try {
            // Byte-bounded requests: after a restart into a backlog, one interval's staged prefix
            // can exceed the broker's message.max.bytes, and as one request it would fail forever.
            for (let i = 0; i < records.length; ) {
              const n = sendSize(records, i, (r) => r.value.length);
              await t.sendBatch({ topicMessages: toTopicMessages(records.slice(i, i + n)), acks: -1 });
              i += n;
            }
            await t.sendOffsets({ consumerGroupId: this.opts.groupId, topics: [{ topic: e.topic, partitions: [{ partition: e.partition, offset: String(offset) }] }] });
            await t.commit();
          } catch (err) {
            await t.abort().catch(() => {});
            throw err;
          }
          tx.retry = [];
          tx.retryOffset = -1;
          committed += records.length;
        } catch (err) {
          const error = err as Error;
          if (isFencedError(error)) {
            // Another instance owns this partition now; what we staged is theirs to redo.
            tx.fenced = true;
            this.log.warn({ partition: e.partition }, 'transactional producer fenced; dropping partition output');
            this.revoke(e.topic, e.partition);
            fenced.push({ topic: e.topic, partition: e.partition });
            return;
          }
          tx.retry = records;
          tx.retryOffset = offset;
          failed.push(error);
        }
      }),
    );
    return { committed, failed, fenced };
  }

  /** Outputs staged but not yet committed (waiting for a retry). */
  get pendingRetry(): number {
    let n = 0;
    for (const tx of this.txs.values()) n += tx.retry.length;
    return n;
  }

  async close(): Promise<void> {
    await Promise.all([...this.txs.values()].map((tx) => tx.ready.then(() => tx.producer.disconnect()).catch(() => {})));
    this.txs.clear();
  }
}
