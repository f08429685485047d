export interface BackoffOptions {
  /** First delay, ms. */
  initialMs: number;
  /** Largest delay, ms. */
  maxMs: number;
  /** Growth per attempt. */
  multiplier: number;
}

/**
 * Exponential backoff with "equal jitter": half the delay is fixed, half random, so a crowd
 * of reconnecting clients spreads out while each still waits at least half the nominal delay.
 */
export function backoffDelay(opts: BackoffOptions, attempt: number, random: () => number = Math.random): number {
  const nominal = Math.min(opts.maxMs, opts.initialMs * opts.multiplier ** Math.max(0, attempt));
  return Math.round(nominal / 2 + (random() * nominal) / 2);
}

/**
 * Counts failures in a sliding window; `record()` returns true when the limit is exceeded,
 * which callers treat as fatal (exit non-zero so a supervisor restarts from committed offsets).
 */
export class FailureRateLimiter {
  private times: number[] = [];
  constructor(private readonly maxFailures: number, private readonly windowMs: number, private readonly now: () => number = Date.now) {}

  record(): boolean {
    const t = this.now();
    this.times.push(t);
    while (this.times.length && this.times[0] <= t - this.windowMs) this.times.shift();
    return this.times.length > this.maxFailures;
  }
}
