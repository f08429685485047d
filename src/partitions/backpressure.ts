import type { Metrics } from '../ops/metrics.js';
import { Hold, type Partition } from './partition.js';
import type { Partitions } from './partitions.js';

export interface BackpressureLimits {
  /** A partition pauses with this many events in flight (MAX_IN_FLIGHT_PER_PARTITION). */
  perPartition: number;
  /** All partitions pause with this many in flight in total (MAX_IN_FLIGHT). */
  total: number;
}

/**
 * Bounds the events in flight: pauses a partition at its bound (and all of them at the total
 * bound) right after a fetched batch, and resumes them once they drained to half the bound.
 * The source pauses only between batches, so one fetch can overshoot a bound by one batch.
 */
export class Backpressure {
  private inFlightMax = 0;
  private stopped = false;

  constructor(private readonly partitions: Partitions, private readonly limits: BackpressureLimits, private readonly metrics: Metrics) {}

  /** After a fetched batch of `part` was taken in. */
  afterBatch(part: Partition): void {
    if (!part.held(Hold.Backpressure) && part.offsets.inFlight >= this.limits.perPartition) this.partitions.hold([part], Hold.Backpressure);
    const total = this.partitions.inFlight;
    // Right after a batch is when in-flight peaks; the commit-tick gauge would miss it.
    if (total > this.inFlightMax) this.metrics.inFlightMax.set((this.inFlightMax = total));
    if (total >= this.limits.total) this.partitions.hold(this.partitions.all().filter((p) => !p.held(Hold.Backpressure)), Hold.Backpressure);
    this.updateGauge();
  }

  /** Resumes paused partitions once they (and the total) drained to half their bound. */
  check(): void {
    if (this.stopped || this.pausedCount() === 0) return;
    if (this.partitions.inFlight > this.limits.total / 2) return;
    const drained = this.partitions.all().filter((p) => p.held(Hold.Backpressure) && p.offsets.inFlight <= this.limits.perPartition / 2);
    this.partitions.release(drained, Hold.Backpressure);
    this.updateGauge();
  }

  /** Partitions paused by backpressure. */
  pausedCount(): number {
    let n = 0;
    for (const p of this.partitions.all()) if (p.held(Hold.Backpressure)) n++;
    return n;
  }

  updateGauge(): void {
    this.metrics.paused.set(this.pausedCount());
  }

  /** Shutting down: nothing is resumed any more. */
  stop(): void {
    this.stopped = true;
  }
}
