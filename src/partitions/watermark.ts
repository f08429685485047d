/**
 * One input partition's event-time watermark. An event is late when it is older than
 * watermark - allowedLateness, where watermark = max event time seen (capped at the wall clock,
 * so one event stamped in the future cannot make everything after it late) - outOfOrderness.
 */
export class Watermark {
  private maxSeen = -1;
  private seen = false;

  constructor(private readonly outOfOrdernessMs: number, private readonly allowedLatenessMs: number) {}

  /** Returns the watermark the event is late against, or -1 when it is on time (and advances the watermark). */
  check(eventTimeMs: number, nowMs: number): number {
    if (!this.seen) {
      this.seen = true;
      this.maxSeen = eventTimeMs;
      return -1;
    }
    const wm = Math.min(this.maxSeen, nowMs) - this.outOfOrdernessMs;
    if (eventTimeMs < wm - this.allowedLatenessMs) return wm;
    if (eventTimeMs > this.maxSeen) this.maxSeen = eventTimeMs;
    return -1;
  }
}
