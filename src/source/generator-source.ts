import { fnv1aBucket } from '../shared/fnv1a.js';
import { tpKey, type RawRecord, type Source, type SourceHandlers, type TopicPartition } from './source.js';
import { categoryOf, funnelStep, mulberry32, zipfRank } from './clickstream.js';

export interface GeneratorOptions {
  /** Events per second. */
  rate: number;
  users: number;
  /** Stop after this many events (0: never). */
  maxEvents: number;
  /** Virtual partitions, each with its own offsets (so commits and backpressure work as with Kafka). */
  partitions: number;
  seed: number;
  topic: string;
}

/**
 * The embedded default's source: a synthetic clickstream (view → add_to_cart → purchase funnel,
 * Zipf-skewed users) encoded as JSON, so it runs through the same validation as Kafka input.
 */
export class GeneratorSource implements Source {
  readonly kind = 'generator' as const;
  private timer: NodeJS.Timeout | null = null;
  private readonly offsets: number[];
  private readonly paused = new Set<number>();
  private readonly committed = new Map<string, number>();
  private produced = 0;
  private credit = 0;
  private last = 0;
  private readonly rand: () => number;
  private finishedResolve!: () => void;
  readonly finished: Promise<void>;

  constructor(private readonly opts: GeneratorOptions) {
    this.offsets = new Array(opts.partitions).fill(0);
    this.rand = mulberry32(opts.seed);
    this.finished = new Promise((r) => (this.finishedResolve = r));
  }

  get committedOffsets(): ReadonlyMap<string, number> {
    return this.committed;
  }

  async start(h: SourceHandlers): Promise<void> {
    const parts = Array.from({ length: this.opts.partitions }, (_, partition) => ({ topic: this.opts.topic, partition }));
    h.onAssignment(parts);
    this.last = performance.now();
    this.timer = setInterval(() => this.tick(h), 5);
  }

  private tick(h: SourceHandlers): void {
    const now = performance.now();
    // Credit accrues on the clock, not on delivery: a slow consumer does not slow the schedule
    // (capped so a long pause does not release a burst of stale events).
    this.credit = Math.min(this.credit + ((now - this.last) / 1000) * this.opts.rate, this.opts.rate);
    this.last = now;
    const batches: RawRecord[][] = Array.from({ length: this.opts.partitions }, () => []);
    const wall = Date.now();
    while (this.credit >= 1) {
      if (this.opts.maxEvents && this.produced >= this.opts.maxEvents) break;
      const user = `user_${zipfRank(this.rand(), this.opts.users)}`;
      const partition = fnv1aBucket(user, this.opts.partitions);
      if (this.paused.has(partition)) {
        this.credit -= 1;
        continue;
      }
      const event_type = funnelStep(this.rand());
      const value = Buffer.from(
        JSON.stringify({
          user_id: user,
          product_id: `p_${Math.floor(this.rand() * 5000)}`,
          category: categoryOf(this.rand()),
          event_type,
          timestamp_ms: wall,
        }),
      );
      batches[partition].push({ topic: this.opts.topic, partition, offset: this.offsets[partition]++, key: Buffer.from(user), value });
      this.produced++;
      this.credit -= 1;
    }
    for (const b of batches) if (b.length) h.onBatch(b);
    if (this.opts.maxEvents && this.produced >= this.opts.maxEvents) {
      this.stopTimer();
      this.finishedResolve();
    }
  }

  pause(partitions: TopicPartition[]): void {
    for (const p of partitions) this.paused.add(p.partition);
  }

  resume(partitions: TopicPartition[]): void {
    for (const p of partitions) this.paused.delete(p.partition);
  }

  async commit(offsets: { topic: string; partition: number; offset: number }[]): Promise<void> {
    for (const o of offsets) this.committed.set(tpKey(o.topic, o.partition), o.offset);
  }

  private stopTimer(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  async stop(): Promise<void> {
    this.stopTimer();
    this.finishedResolve();
  }

  async close(): Promise<void> {}
}
