import { EVENT_TYPE_CODE } from '../ingest/event.js';
import type { EventInFlight } from '../ingest/event-in-flight.js';
import type { Metrics } from '../ops/metrics.js';
import { backoffDelay } from '../shared/backoff.js';
import { newFeatureBatch, type FeatureResult, type FeatureStore } from './feature-store.js';

/** Largest feature call; bigger queues are split so one Lua call never blocks Redis for long. */
export const MAX_FEATURE_BATCH = 1024;

export interface FeatureStageEvents {
  /** Features for `items`, in order (the declared set's width of floats per item). */
  scored(items: EventInFlight[], result: FeatureResult): void;
  /** The store stayed unavailable through every retry. */
  failed(items: EventInFlight[], err: Error, attempts: number): void;
}

/**
 * Updates and reads each event's features: one store call at a time, in arrival order. Events
 * queued meanwhile join the next call, so calls grow with load, and a retry can never let a
 * later call overtake an earlier one.
 */
export class FeatureStage {
  private queue: EventInFlight[] = [];
  private busy = false;

  constructor(
    private readonly store: FeatureStore,
    private readonly opts: { retries: number },
    private readonly metrics: Metrics,
    private readonly events: FeatureStageEvents,
  ) {}

  push(e: EventInFlight): void {
    this.queue.push(e);
  }

  /** Nothing queued and no call in progress. */
  get idle(): boolean {
    return !this.busy && this.queue.length === 0;
  }

  /** Starts a call for what is queued unless one is already running (it takes the queue when done). */
  kick(): void {
    if (this.busy || this.queue.length === 0) return;
    this.busy = true;
    void this.run();
  }

  private async run(): Promise<void> {
    while (this.queue.length > 0) {
      const items = this.queue.length <= MAX_FEATURE_BATCH ? this.queue : this.queue.slice(0, MAX_FEATURE_BATCH);
      this.queue = items === this.queue ? [] : this.queue.slice(MAX_FEATURE_BATCH);
      const batch = newFeatureBatch(items.length);
      for (let i = 0; i < items.length; i++) {
        const it = items[i];
        batch.userIds[i] = it.ev.user_id;
        batch.codes[i] = EVENT_TYPE_CODE[it.ev.event_type];
        batch.categories[i] = it.ev.category;
        batch.timestamps[i] = it.ev.timestamp_ms;
        batch.sources[i] = it.part.source;
        batch.offsets[i] = it.rec.offset;
      }
      const r = await this.call(batch);
      if ('result' in r) {
        let replays = 0;
        for (let i = 0; i < items.length; i++) replays += r.result.replayed[i];
        if (replays) this.metrics.replays.inc(replays);
        this.events.scored(items, r.result);
      } else {
        this.events.failed(items, r.error, r.attempts);
      }
    }
    this.busy = false;
  }

  private async call(batch: ReturnType<typeof newFeatureBatch>): Promise<{ result: FeatureResult } | { error: Error; attempts: number }> {
    for (let attempts = 1; ; attempts++) {
      try {
        return { result: await this.store.updateAndRead(batch) };
      } catch (err) {
        this.metrics.featureErrors.inc();
        // A store known to be down fails at once: retrying it only delays the fallback.
        if (attempts > this.opts.retries || !this.store.available) return { error: err as Error, attempts };
        await new Promise((r) => setTimeout(r, backoffDelay({ initialMs: 5, maxMs: 100, multiplier: 2 }, attempts - 1)));
      }
    }
  }
}
