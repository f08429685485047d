import '../kafka/kafkajs-read-committed.js'; // before kafkajs: fixes its read_committed filter
import { Partitioners, type Kafka, type Producer, type RetryOptions } from 'kafkajs';
import { toTopicMessages } from './kafka-sink.js';
import type { Logger } from '../ops/logger.js';
import { isFencedError } from '../kafka/kafka-errors.js';
import { errorMessage } from '../shared/errors.js';
import type { CommitEntry } from '../partitions/partition-offsets.js';
import type { Transactions, TransactionsResult } from './exactly-once.js';
import { tpKey, type TopicPartition } from '../source/source.js';
import { sendSize, type OutputRecord } from './sink.js';
import { PendingRecords } from './pending-records.js';

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
  /** Output not yet known committed (retried first in the next transaction). */
  pending: PendingRecords;
  fenced: boolean;
  /**
   * The last transaction could not be ended: its EndTxn failed (the reply lost: the broker may
   * have ended it) and kafkajs cannot send it again (its state machine stays in COMMITTING or
   * ABORTING, and every later transaction() throws). The next commit replaces the producer, whose
   * InitProducerId completes a commit the broker received and aborts anything else; for
   * 'commit', the group's committed offset then tells whether the records were committed.
   */
  unsettled: 'commit' | 'abort' | null;
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
    const tx: PartitionTx = { topic, partition, ...this.createProducer(topic, partition), pending: new PendingRecords(), fenced: false, unsettled: null };
    this.txs.set(key, tx);
    return tx.ready;
  }

  private createProducer(topic: string, partition: number): Pick<PartitionTx, 'producer' | 'ready'> {
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
    ready.catch((err: Error) => this.log.error({ err: errorMessage(err), topic, partition }, 'transactional producer failed to connect'));
    return { producer, ready };
  }

  /** Drops a revoked partition: its uncommitted records are never committed by this instance. */
  revoke(topic: string, partition: number): void {
    const key = tpKey(topic, partition);
    const tx = this.txs.get(key);
    if (!tx) return;
    this.txs.delete(key);
    void this.disconnect(tx.producer, tx.ready);
  }

  /** Disconnects a producer once its start has settled (a failed start was logged where it happened). */
  private async disconnect(producer: Producer, ready: Promise<void>): Promise<void> {
    await ready.catch(() => undefined);
    await producer.disconnect().catch((err: Error) => this.log.warn({ err: errorMessage(err) }, 'disconnecting a transactional producer failed'));
  }

  /** Commits one transaction per partition with staged output. Failed ones are retried next time. */
  async commit(entries: CommitEntry<OutputRecord>[]): Promise<TransactionsResult> {
    const byKey = new Map(entries.map((e) => [tpKey(e.topic, e.partition), e]));
    // Partitions with only a pending retry commit too.
    for (const [key, tx] of this.txs) if (!byKey.has(key) && tx.pending.pending) byKey.set(key, { topic: tx.topic, partition: tx.partition, offset: tx.pending.offset, payloads: [] });
    const failed: Error[] = [];
    const fenced: TopicPartition[] = [];
    let committed = 0;
    await Promise.all(
      [...byKey].map(async ([key, e]) => {
        const tx = this.txs.get(key);
        if (!tx) return;
        try {
          await this.commitPartition(tx, e, (n) => (committed += n));
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
          failed.push(error);
        }
      }),
    );
    return { committed, failed, fenced };
  }

  /** One transaction of `e` after the partition's pending retry; `count` hears of records committed. */
  private async commitPartition(tx: PartitionTx, e: CommitEntry<OutputRecord>, count: (n: number) => void): Promise<void> {
    tx.pending.stage(e);
    if (tx.unsettled && (await this.settle(tx))) {
      // The transaction whose commit reply was lost did commit: its records are out.
      count(tx.pending.committed());
      if (!tx.pending.pending) return;
    }
    await tx.ready;
    const t = await tx.producer.transaction();
    const { records, offset } = tx.pending.begin();
    try {
      // Byte-bounded requests: after a restart into a backlog, one interval's staged prefix
      // can exceed the broker's message.max.bytes, and as one request it would fail forever.
      for (let i = 0; i < records.length; ) {
        const n = sendSize(records, i, (r) => r.value.length);
        await t.sendBatch({ topicMessages: toTopicMessages(records.slice(i, i + n)), acks: -1 });
        i += n;
      }
      await t.sendOffsets({ consumerGroupId: this.opts.groupId, topics: [{ topic: e.topic, partitions: [{ partition: e.partition, offset: String(offset) }] }] });
    } catch (err) {
      // Aborted now, so its records do not hold back read_committed readers until the next round.
      if (!isFencedError(err)) {
        await t.abort().catch((abortErr: Error) => {
          tx.unsettled = 'abort';
          this.log.warn({ err: errorMessage(abortErr), partition: tx.partition }, 'abort failed; ended before the next transaction');
        });
      }
      throw err;
    }
    try {
      await t.commit();
    } catch (err) {
      if (!isFencedError(err)) tx.unsettled = 'commit';
      throw err;
    }
    count(tx.pending.committed());
  }

  /**
   * Ends a transaction whose EndTxn failed, with a new producer of the same transactional id: its
   * InitProducerId waits for a commit the coordinator received to complete and aborts a
   * transaction still open. True if the records were committed (for 'commit': the group's
   * committed offset reached the transaction's).
   */
  private async settle(tx: PartitionTx): Promise<boolean> {
    const old = tx.producer;
    void this.disconnect(old, tx.ready);
    Object.assign(tx, this.createProducer(tx.topic, tx.partition));
    await tx.ready;
    const committed = tx.unsettled === 'commit' && (await this.committedOffset(tx.topic, tx.partition)) >= tx.pending.beganOffset;
    this.log.warn({ topic: tx.topic, partition: tx.partition, intended: tx.unsettled, committed }, 'transaction of unknown outcome settled with a new producer');
    tx.unsettled = null;
    return committed;
  }

  private async committedOffset(topic: string, partition: number): Promise<number> {
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      const [t] = await admin.fetchOffsets({ groupId: this.opts.groupId, topics: [topic] });
      return Number(t?.partitions.find((p) => p.partition === partition)?.offset ?? -1);
    } finally {
      await admin.disconnect();
    }
  }

  /** Outputs staged but not yet committed (waiting for a retry). */
  get pendingRetry(): number {
    let n = 0;
    for (const tx of this.txs.values()) n += tx.pending.records.length;
    return n;
  }

  async close(): Promise<void> {
    await Promise.all([...this.txs.values()].map((tx) => this.disconnect(tx.producer, tx.ready)));
    this.txs.clear();
  }
}
