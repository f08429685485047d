import { backoffDelay } from '../shared/backoff.js';
import { errorMessage } from '../shared/errors.js';
import { Hold, type Partition } from '../partitions/partition.js';
import type { OutputContext, OutputStrategy } from './output-strategy.js';
import type { OutputRecord } from './sink.js';
import type { CommitEntry } from '../partitions/partition-offsets.js';
import type { TopicPartition } from '../source/source.js';

export interface TransactionsResult {
  committed: number;
  /** Transactions that failed and will be retried. */
  failed: Error[];
  /** Partitions whose producer another instance fenced: their staged output was dropped. */
  fenced: TopicPartition[];
}

/** Per-partition Kafka transactions (TransactionalOutput); the seam lets the bookkeeping be tested alone. */
export interface Transactions {
  /** Resolves once the partition's producer is initialised and the previous owner fenced. */
  assign(topic: string, partition: number): Promise<void>;
  revoke(topic: string, partition: number): void;
  /** One transaction per entry (records + consumed offset); failed ones are retried next time. */
  commit(entries: CommitEntry<OutputRecord>[]): Promise<TransactionsResult>;
  close(): Promise<void>;
}

export interface ExactlyOnceOptions {
  /**
   * Outputs are visible only once their transaction commits, so the next transaction starts this
   * long after the previous one committed, not on a fixed COMMIT_INTERVAL_MS tick
   * (TRANSACTION_MIN_INTERVAL_MS).
   */
  minCommitIntervalMs?: number;
  /**
   * A partition whose producer another instance fenced, and which the group still assigns here
   * this long afterwards, is taken back (fenced again, read from the committed offset). The
   * group's session timeout: by then a zombie has heard of the rebalance that revokes it.
   */
  retakeAfterMs?: number;
}

/**
 * Exactly-once: an output is staged on its input offset (done = staged) and each commit writes
 * every partition's contiguous staged prefix in one transaction with the consumed offset.
 * Fencing belongs here: a newly assigned partition fetches only after its producer fenced the
 * previous owner.
 */
export class ExactlyOnceOutput implements OutputStrategy {
  readonly guarantee = 'exactly-once' as const;
  onCommittable?: () => void;

  readonly minCommitIntervalMs: number;
  private readonly retakeAfterMs: number;
  /** Consecutive commit rounds in which a transaction failed (0: the last one had none). */
  private failedRounds = 0;

  constructor(private readonly tx: Transactions, private readonly ctx: OutputContext, opts: ExactlyOnceOptions = {}) {
    this.minCommitIntervalMs = opts.minCommitIntervalMs ?? 20;
    this.retakeAfterMs = opts.retakeAfterMs ?? 6000;
  }

  emit(record: OutputRecord, part: Partition, offset: number): void {
    part.offsets.markDone(offset, record);
    this.onCommittable?.();
  }

  assigned(added: readonly Partition[]): void {
    if (added.length === 0) return;
    this.ctx.partitions.hold(added, Hold.Fencing);
    for (const p of added) this.fence(p);
  }

  revoked(removed: readonly Partition[]): void {
    for (const p of removed) this.tx.revoke(p.topic, p.partition);
  }

  async commit(): Promise<void> {
    const { ctx } = this;
    const entries = ctx.partitions.takeCommittable();
    const { failed, fenced } = await this.tx.commit(entries);
    if (entries.length && failed.length + fenced.length < entries.length) ctx.metrics.commits.inc();
    for (const tp of fenced) {
      // Another producer with this partition's transactional id took over: this instance was
      // (or is still) out of the group's view. Its state of the partition is void: hold it.
      // A rebalance that gives it back starts it afresh; if the group already gave it back
      // (the assignment came back unchanged after a network cut), no rebalance will come, so
      // it is retaken after retakeAfterMs unless revoked by then.
      const p = ctx.partitions.get(tp.topic, tp.partition);
      if (!p) continue;
      p.superseded = true;
      ctx.partitions.hold([p], Hold.Fencing);
      ctx.log.warn({ topic: tp.topic, partition: tp.partition, retakeAfterMs: this.retakeAfterMs }, 'partition taken over by another producer; held until assigned again or retaken');
      setTimeout(() => this.retake(p), this.retakeAfterMs).unref();
    }
    if (failed.length === 0) {
      this.failedRounds = 0;
      return;
    }
    for (const err of failed) {
      ctx.metrics.sendFailures.inc();
      ctx.log.warn({ err: err.message }, 'transaction failed; retrying at the next commit');
    }
    // One failure per round, as the at-least-once output counts one per failed send: the
    // partitions of a round usually fail together, for one cause (the coordinator, the network).
    this.failedRounds++;
    if (ctx.failures.record()) ctx.onFatal(failed[0]);
  }

  /**
   * How long the next commit round waits after failed ones, growing as RECONNECT_* says: back to
   * back, a round failing in milliseconds (a lost reply) would spend MAX_FAILURES in a second.
   */
  get retryDelayMs(): number {
    return this.failedRounds ? backoffDelay(this.ctx.backoff, this.failedRounds - 1) : 0;
  }

  drain(): Promise<void> {
    return Promise.resolve();
  }

  close(): Promise<void> {
    return this.tx.close();
  }

  /** `p` is still assigned here after its producer was fenced: start it afresh, as a new assignment would. */
  private retake(p: Partition<OutputRecord>): void {
    if (this.ctx.stopping()) return;
    const renewed = this.ctx.partitions.renew(p);
    if (!renewed) return;
    this.ctx.log.warn({ topic: p.topic, partition: p.partition }, 'partition still assigned here after its producer was fenced; fencing again from its committed offset');
    this.revoked(renewed.revoked);
    this.assigned(renewed.added);
  }

  /**
   * Hand-over of a newly assigned partition: it stays held until its transactional producer is
   * initialised, which commits or aborts the previous owner's open transaction and fences that
   * owner; only then is the committed offset read and fetching started there. kafkajs reads the
   * committed offset as soon as the assignment arrives, and a transaction of the previous owner
   * still committing at that moment would have its outputs produced a second time (kafkajs has
   * no KIP-447 generation check).
   */
  private fence(p: Partition, attempt = 0): void {
    const { ctx } = this;
    const src = ctx.source;
    const current = () => !ctx.stopping() && p.owned;
    this.tx
      .assign(p.topic, p.partition)
      .then(() => (src.committedOffset ? src.committedOffset(p.tp) : -1))
      .then(
        (offset) => {
          if (!current()) return;
          if (offset >= 0) src.seek?.(p.tp, offset);
          ctx.partitions.release([p], Hold.Fencing);
          ctx.log.info({ topic: p.topic, partition: p.partition, offset }, 'partition fenced; consuming from its committed offset');
        },
        (err: Error) => {
          if (!current()) return;
          ctx.metrics.sendFailures.inc();
          ctx.log.warn({ err: errorMessage(err), partition: p.partition, attempt }, 'transactional producer not ready; retrying the hand-over');
          if (ctx.failures.record()) return ctx.onFatal(err);
          this.tx.revoke(p.topic, p.partition);
          setTimeout(() => this.fence(p, attempt + 1), backoffDelay(ctx.backoff, attempt)).unref();
        },
      );
  }
}
