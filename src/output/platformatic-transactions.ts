import { Producer, type BaseOptions, type Consumer, type MessageToProduce } from '@platformatic/kafka';
import type { Logger } from '../ops/logger.js';
import { isFencedError, isInvalidTxnStateError, isRebalanceError, kafkaErrorNames } from '../kafka/kafka-errors.js';
import { OUTPUT_SERIALIZERS, javaCompatiblePartitioner } from '../kafka/platformatic-client.js';
import type { CommitEntry } from '../partitions/partition-offsets.js';
import { ScorestreamError, errorMessage } from '../shared/errors.js';
import { tpKey, type TopicPartition } from '../source/source.js';
import type { Transactions, TransactionsResult } from './exactly-once.js';
import { NotGroupMemberError, TransactionGroup, type GroupConsumer } from './transaction-group.js';
import { PendingRecords } from './pending-records.js';
import { sendSize, type OutputRecord } from './sink.js';

/** Keys, values and header names/values as OutputRecord has them (string | Buffer | null). */
type Bytes = string | Buffer | null;
type TxProducer = Producer<Bytes, Bytes, Bytes, Bytes>;
type Transaction = NonNullable<TxProducer['transaction']>;

/** kafkajs's RetryOptions (its defaults), so kafka-client's transactionRetry(c) fits as it is. */
export interface TransactionRetry {
  initialRetryTime?: number;
  maxRetryTime?: number;
  multiplier?: number;
  retries?: number;
}

export type { GroupConsumer };

export interface PlatformaticTransactionsOptions {
  transactionalIdPrefix: string;
  groupId: string;
  /**
   * The source's consumer (a getter: it may be created after this). Its group generation and
   * member id go with each transaction's offsets (KIP-447, see TransactionGroup). Without one the
   * offsets go without them (generation -1), as kafkajs sends them.
   */
  consumer?: () => GroupConsumer | undefined;
  /** The producers' retry policy; first wait short (CONCURRENT_TRANSACTIONS clears in milliseconds). */
  retry?: TransactionRetry;
}

/** A partition's transaction failed (aborted; its records are retried first at the next commit). */
export class TransactionFailedError extends ScorestreamError {
  constructor(readonly topic: string, readonly partition: number, cause: Error) {
    const names = kafkaErrorNames(cause);
    super(`transaction of ${topic}/${partition} failed: ${errorMessage(cause)}${names.length ? ` (${names.join(', ')})` : ''}`, { cause });
  }
}

interface PartitionTx {
  topic: string;
  partition: number;
  producer: TxProducer;
  ready: Promise<void>;
  /** Output not yet known committed (retried first in the next transaction). */
  pending: PendingRecords;
  fenced: boolean;
  /** Dropped (revoked, fenced, closed): no transaction is started for it any more. */
  dropped: boolean;
  /** A transaction begun but not known to be ended: ended as intended before the next one begins. */
  open: Transaction | null;
  /** Its commit was requested: its outcome is unknown, so it is committed again, never aborted. */
  openCommit: boolean;
  /** It sent something to the broker (else it is ended locally). */
  openTouched: boolean;
  /** Bump the epoch before the next transaction: an aborted one may leave the idempotence sequences out of step. */
  reinit: boolean;
  /** The commit under way, if any: a revoked partition's producer closes after it. */
  busy: Promise<void>;
}

const noop = (): void => {};

/**
 * The producers' `timeout`, which @platformatic/kafka also sends as the transaction timeout
 * (InitProducerId): kafkajs's default transactionTimeout. The library's 5 s default would let the
 * coordinator abort (and fence) a transaction of a large backlog round while it is still sending.
 */
const TRANSACTION_TIMEOUT_MS = 60_000;

/**
 * Exactly-once output on @platformatic/kafka, the same contract as TransactionalOutput (kafkajs):
 * one transactional producer per input partition (`<prefix>-<topic>-<partition>`, so a new
 * owner's producer fences a zombie), one transaction per partition and commit carrying its
 * staged records and consumed offset.
 */
export class PlatformaticTransactions implements Transactions {
  private readonly txs = new Map<string, PartitionTx>();
  private readonly group: TransactionGroup;

  constructor(private readonly base: BaseOptions, private readonly opts: PlatformaticTransactionsOptions, private readonly log: Logger) {
    this.group = new TransactionGroup(base, opts.groupId, opts.consumer);
  }

  /**
   * Creates (and fences any zombie of) the producer of a newly assigned partition. Resolves once
   * its transactional InitProducerId is done: the previous owner is fenced and its open
   * transaction settled (an ongoing one aborted; one already committing completes first, the
   * broker answering CONCURRENT_TRANSACTIONS meanwhile), so the group's committed offset is final.
   */
  assign(topic: string, partition: number): Promise<void> {
    const key = tpKey(topic, partition);
    const existing = this.txs.get(key);
    if (existing && !existing.fenced) return existing.ready;
    const producer = this.createProducer(topic, partition);
    // The first beginTransaction sends InitProducerId. Producer id/epoch -1 take the id
    // unconditionally: @platformatic/kafka otherwise sends 0/0, which the broker (KIP-360's
    // check) answers with PRODUCER_FENCED for any transactional id used before, e.g. by the
    // previous owner. cancel() ends the empty transaction locally: nothing reached the broker.
    const ready = producer.beginTransaction({ producerId: -1n, producerEpoch: -1 }).then((t) => t.cancel());
    const tx: PartitionTx = { topic, partition, producer, ready, pending: new PendingRecords(), fenced: false, dropped: false, open: null, openCommit: false, openTouched: false, reinit: false, busy: Promise.resolve() };
    tx.ready.catch((err: Error) => this.log.error({ err: errorMessage(err), topic, partition }, 'transactional producer failed to initialise'));
    this.txs.set(key, tx);
    return tx.ready;
  }

  /** Drops a revoked partition: its uncommitted records are never committed by this instance. */
  revoke(topic: string, partition: number): void {
    const key = tpKey(topic, partition);
    const tx = this.txs.get(key);
    if (!tx) return;
    this.txs.delete(key);
    tx.dropped = true;
    void this.retire(tx);
  }

  /** One transaction per partition with staged output or a pending retry. Failed ones are retried next time. */
  async commit(entries: CommitEntry<OutputRecord>[]): Promise<TransactionsResult> {
    const byKey = new Map(entries.map((e) => [tpKey(e.topic, e.partition), e]));
    for (const [key, tx] of this.txs) if (!byKey.has(key) && tx.pending.pending) byKey.set(key, { topic: tx.topic, partition: tx.partition, offset: tx.pending.offset, payloads: [] });
    const result: TransactionsResult = { committed: 0, failed: [], fenced: [] };
    await Promise.all(
      [...byKey].map(([key, e]) => {
        const tx = this.txs.get(key);
        if (!tx) return;
        const run = this.commitPartition(tx, e, result);
        tx.busy = run.then(noop, noop);
        return run.catch((err: Error) => this.failed(key, tx, err, result));
      }),
    );
    return result;
  }

  /** Outputs staged but not yet committed (waiting for a retry). */
  get pendingRetry(): number {
    let n = 0;
    for (const tx of this.txs.values()) n += tx.pending.records.length;
    return n;
  }

  async close(): Promise<void> {
    const all = [...this.txs.values()];
    this.txs.clear();
    for (const tx of all) tx.dropped = true;
    await Promise.all(all.map((tx) => this.retire(tx)));
    await this.group.close().catch((err: Error) => this.log.warn({ err: errorMessage(err) }, 'closing the group coordinator lookup failed'));
  }

  private createProducer(topic: string, partition: number): TxProducer {
    const r = this.opts.retry;
    return new Producer<Bytes, Bytes, Bytes, Bytes>({
      ...this.base,
      transactionalId: `${this.opts.transactionalIdPrefix}-${topic}-${partition}`,
      idempotent: true,
      timeout: TRANSACTION_TIMEOUT_MS,
      autocreateTopics: true,
      // As the sink: keys where the Java client / kafkajs's DefaultPartitioner put them, fields as Buffers.
      partitioner: javaCompatiblePartitioner(),
      serializers: OUTPUT_SERIALIZERS,
      // An idempotent producer with retries unset (or <= 1) retries forever: a broker outage
      // would then never fail a transaction and the engine's failure-rate limit never see it.
      retries: Math.max(2, r?.retries ?? (typeof this.base.retries === 'number' ? this.base.retries : 5)),
      ...(r ? { retryDelay: (_c: unknown, _op: string, attempt: number) => Math.min(r.maxRetryTime ?? 30_000, (r.initialRetryTime ?? 300) * (r.multiplier ?? 2) ** (attempt - 1)) } : {}),
    });
  }

  private async commitPartition(tx: PartitionTx, e: CommitEntry<OutputRecord>, result: TransactionsResult): Promise<void> {
    tx.pending.stage(e);
    await tx.ready;
    // Revoked meanwhile: a transaction already under way ends (the next owner's InitProducerId
    // waits for it or aborts it), but none starts.
    if (tx.dropped) return;
    if (tx.open && (await this.settle(tx))) {
      // The previous transaction, whose commit had failed, did commit after all.
      result.committed += tx.pending.committed();
      if (!tx.pending.pending) return;
    }
    if (tx.dropped) return;
    await this.transaction(tx);
    result.committed += tx.pending.committed();
  }

  private async transaction(tx: PartitionTx): Promise<void> {
    const t = await tx.producer.beginTransaction();
    const { records, offset } = tx.pending.begin();
    Object.assign(tx, { open: t, openCommit: false, openTouched: false });
    try {
      if (tx.reinit) {
        // InitProducerId with the current id/epoch (KIP-360): bumps the epoch and resets the
        // sequences unless another producer took the id, which it then reports (fenced).
        await tx.producer.initIdempotentProducer({ producerId: tx.producer.producerId!, producerEpoch: tx.producer.producerEpoch! });
        tx.reinit = false;
      }
      const member = await this.group.member();
      tx.openTouched = true;
      // Byte-bounded requests: after a restart into a backlog, one interval's staged prefix can
      // exceed the broker's message.max.bytes, and as one request it would fail forever.
      for (let i = 0; i < records.length; ) {
        const n = sendSize(records, i, (r) => r.value.length);
        await t.send({ messages: (n === records.length ? records : records.slice(i, i + n)) as MessageToProduce<Bytes, Bytes, Bytes, Bytes>[] });
        i += n;
      }
      // addConsumer reads only the group id.
      await t.addConsumer(member as unknown as Consumer);
      await t.addOffset(this.group.offsetMessage(tx.topic, tx.partition, offset, member));
      tx.openCommit = true;
      await t.commit();
      tx.open = null;
    } catch (err) {
      // Aborted now, so its records do not hold back read_committed readers until the next round.
      if (!tx.openCommit && !isFencedError(err)) await this.settle(tx).catch((abortErr: Error) => this.log.warn({ err: errorMessage(abortErr), partition: tx.partition }, 'abort failed; ended before the next transaction'));
      throw err;
    }
  }

  /**
   * Ends the open transaction as intended (commit again if its commit was requested, else
   * abort). True if it committed. INVALID_TXN_STATE: the coordinator has no such transaction
   * open, so nothing of it was committed. Throws while it cannot be ended.
   */
  private async settle(tx: PartitionTx): Promise<boolean> {
    const t = tx.open!;
    let committed = tx.openCommit;
    try {
      if (!tx.openTouched) await t.cancel();
      else if (committed) await t.commit();
      else await t.abort();
    } catch (err) {
      if (!isInvalidTxnStateError(err)) throw err;
      committed = false;
      await t.cancel();
    }
    tx.open = null;
    if (!committed && tx.openTouched) tx.reinit = true;
    return committed;
  }

  private failed(key: string, tx: PartitionTx, err: Error, result: TransactionsResult): void {
    // Revoked meanwhile: dropped, not this instance's to retry.
    if (this.txs.get(key) !== tx) return;
    if (isFencedError(err)) {
      // Another instance owns this partition now; what we staged is theirs to redo.
      tx.fenced = true;
      this.log.warn({ topic: tx.topic, partition: tx.partition }, 'transactional producer fenced; dropping partition output');
      this.revoke(tx.topic, tx.partition);
      result.fenced.push({ topic: tx.topic, partition: tx.partition } satisfies TopicPartition);
      return;
    }
    if (isRebalanceError(err) || err instanceof NotGroupMemberError) {
      // The group coordinator refused the offsets of this member's generation (KIP-447): the
      // group is rebalancing. Expected around every rebalance, so not counted against
      // MAX_FAILURES (kafkajs, sending no generation, never meets it): the records stay pending
      // and go with the next commit, under the new generation, unless the partition is revoked.
      this.log.info({ topic: tx.topic, partition: tx.partition, err: kafkaErrorNames(err).join(', ') || errorMessage(err) }, 'offsets refused while the group rebalances; retried at the next commit');
      return;
    }
    result.failed.push(new TransactionFailedError(tx.topic, tx.partition, err));
  }

  /** Closes a dropped partition's producer once its commit under way (if any) has ended. */
  private async retire(tx: PartitionTx): Promise<void> {
    await tx.busy;
    const warn = (what: string) => (err: Error) => this.log.warn({ err: errorMessage(err), topic: tx.topic, partition: tx.partition }, what);
    // An open, uncommitted transaction would hold back read_committed readers until the next
    // owner's InitProducerId or the transaction timeout: abort it (best effort).
    if (tx.open && tx.openTouched && !tx.openCommit && !tx.fenced) await tx.open.abort().catch(warn('abort of a dropped partition failed; the next owner aborts it'));
    await tx.ready.catch(noop); // its failure was logged where it happened
    await tx.producer.close().catch(warn('closing a transactional producer failed'));
  }
}
