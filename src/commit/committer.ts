import type { Metrics } from '../ops/metrics.js';
import type { OutputStrategy } from '../output/output-strategy.js';
import type { Backpressure } from '../partitions/backpressure.js';
import type { Partitions } from '../partitions/partitions.js';

/**
 * Commits what is done every interval (and on demand: rebalance, shutdown), never two at once.
 * What "done" and "commit" mean is the output strategy's; the committer also refreshes the
 * in-flight and lag gauges and gives backpressure a chance to resume.
 */
export class Committer {
  private timer: NodeJS.Timeout | null = null;
  private committing: Promise<void> | null = null;

  constructor(
    private readonly output: OutputStrategy,
    private readonly partitions: Partitions,
    private readonly backpressure: Backpressure,
    private readonly metrics: Metrics,
    private readonly intervalMs: number,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.commit(), this.intervalMs);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Commits what is done; a call while one is running joins it. */
  commit(): Promise<void> {
    if (!this.committing) {
      this.committing = this.once().finally(() => {
        this.committing = null;
      });
    }
    return this.committing;
  }

  private async once(): Promise<void> {
    // commit() releases what is done before its first await, so the gauges below already count
    // only what is not yet released.
    const committed = this.output.commit();
    this.metrics.inFlight.set(this.partitions.size);
    this.updateLag(Date.now());
    this.backpressure.check();
    await committed;
  }

  private updateLag(now: number): void {
    for (const p of this.partitions.all()) {
      const o = p.offsets;
      if (o.highestSeen < 0) continue;
      // Broker end offset when known (Kafka), else what was received: minus the next offset to commit.
      const end = Math.max(p.highWatermark, o.highestSeen + 1);
      this.metrics.lag.set(p.labels, Math.max(0, end - o.nextToCommit));
      // Age of the oldest event received and not yet released for commit: what on-call alerts on.
      const oldest = o.oldestTimestamp;
      this.metrics.lagSeconds.set(p.labels, oldest < 0 ? 0 : Math.max(0, now - oldest) / 1000);
    }
  }
}
