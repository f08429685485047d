/**
 * Per-partition event-time watermark. An event is late when it is older than
 * watermark - allowedLateness, where watermark = max event time seen (capped at the wall clock,
 * so one event stamped in the future cannot make everything after it late) - outOfOrderness.
 */
export class Watermarks {
  private readonly maxSeen = new Map<string, number>();

  constructor(private readonly outOfOrdernessMs: number, private readonly allowedLatenessMs: number) {}

  /** Returns the watermark the event is late against, or -1 when it is on time (and advances the watermark). */
  check(key: string, eventTimeMs: number, nowMs: number): number {
    const max = this.maxSeen.get(key);
    if (max !== undefined) {
      const wm = Math.min(max, nowMs) - this.outOfOrdernessMs;
      if (eventTimeMs < wm - this.allowedLatenessMs) return wm;
      if (eventTimeMs > max) this.maxSeen.set(key, eventTimeMs);
    } else {
      this.maxSeen.set(key, eventTimeMs);
    }
    return -1;
  }

  forget(key: string): void {
    this.maxSeen.delete(key);
  }
}
