// A Source for in-process engine tests: delivers the records a test gives it, per partition, in
// batches, only while the partition is not paused (as kafkajs does), and records every pause,
// resume and commit call so tests can assert on them.
import type { RawRecord, Source, SourceHandlers, TopicPartition } from '../../src/source/source.js';

export interface SourceCall {
  kind: 'pause' | 'resume';
  partitions: TopicPartition[];
  /** Records of the partition(s) delivered so far when the call came. */
  delivered: number;
}

export class ScriptedSource implements Source {
  readonly kind = 'kafka' as const;
  /** Every pause/resume call, in order. */
  readonly calls: SourceCall[] = [];
  /** Every commit call's offsets, in order. */
  readonly commits: { topic: string; partition: number; offset: number }[][] = [];
  private handlers: SourceHandlers | null = null;
  private readonly queued = new Map<number, RawRecord[]>();
  private readonly nextOffset = new Map<number, number>();
  private readonly paused = new Set<number>();
  private readonly deliveredCount = new Map<number, number>();
  private pumping = false;
  private stopped = false;
  /** Set to make the next commit calls reject (and not count as committed). */
  failCommits = false;

  constructor(readonly topic = 'in', readonly partitions: readonly number[] = [0], private readonly batchSize = 50) {}

  async start(h: SourceHandlers): Promise<void> {
    this.handlers = h;
    h.onAssignment(this.partitions.map((partition) => ({ topic: this.topic, partition })));
    this.schedule();
  }

  /** Queues values (offsets continue from the partition's last one) for delivery. */
  push(partition: number, values: (string | Buffer | null)[], key: (i: number) => string | null = () => null): RawRecord[] {
    const q = this.queued.get(partition) ?? this.queued.set(partition, []).get(partition)!;
    let offset = this.nextOffset.get(partition) ?? 0;
    const recs = values.map((v, i) => ({
      topic: this.topic,
      partition,
      offset: offset++,
      key: key(i) === null ? null : Buffer.from(key(i)!),
      value: v === null ? null : Buffer.isBuffer(v) ? v : Buffer.from(v, 'utf8'),
    }));
    this.nextOffset.set(partition, offset);
    q.push(...recs);
    this.schedule();
    return recs;
  }

  /** Records handed to the engine so far, per partition. */
  delivered(partition: number): number {
    return this.deliveredCount.get(partition) ?? 0;
  }

  /** Records not yet handed over (the partition is paused, or delivery is pending). */
  pending(partition: number): number {
    return this.queued.get(partition)?.length ?? 0;
  }

  isPaused(partition: number): boolean {
    return this.paused.has(partition);
  }

  /** The last committed offset of a partition (next offset to read), -1 when none. */
  committed(partition: number): number {
    let c = -1;
    for (const batch of this.commits) for (const o of batch) if (o.partition === partition && o.topic === this.topic) c = o.offset;
    return c;
  }

  pause(tps: TopicPartition[]): void {
    for (const tp of tps) this.paused.add(tp.partition);
    this.calls.push({ kind: 'pause', partitions: tps, delivered: this.sum(tps) });
  }

  resume(tps: TopicPartition[]): void {
    for (const tp of tps) this.paused.delete(tp.partition);
    this.calls.push({ kind: 'resume', partitions: tps, delivered: this.sum(tps) });
    this.schedule();
  }

  async commit(offsets: { topic: string; partition: number; offset: number }[]): Promise<void> {
    if (this.failCommits) throw new Error('scripted commit failure');
    this.commits.push(offsets.map((o) => ({ ...o })));
  }

  async stop(): Promise<void> {
    this.stopped = true;
  }

  async close(): Promise<void> {}

  private sum(tps: TopicPartition[]): number {
    return tps.reduce((a, tp) => a + this.delivered(tp.partition), 0);
  }

  /** Delivers on a later tick, like a fetch loop: never re-entrantly from pause/resume. */
  private schedule(): void {
    if (this.pumping || !this.handlers) return;
    this.pumping = true;
    setImmediate(() => {
      this.pumping = false;
      this.pump();
    });
  }

  private pump(): void {
    if (!this.handlers || this.stopped) return;
    let more = false;
    for (const [partition, q] of this.queued) {
      if (q.length === 0 || this.paused.has(partition)) continue;
      const batch = q.splice(0, this.batchSize);
      this.deliveredCount.set(partition, this.delivered(partition) + batch.length);
      this.handlers.onBatch(batch, this.nextOffset.get(partition));
      if (q.length) more = true;
    }
    if (more) this.schedule();
  }
}
