import type { LaneBatch } from '../lanes/lane-dispatcher.js';
import type { LaneResult } from '../lanes/lane-pool.js';
import type { Logger } from '../ops/logger.js';
import type { Metrics } from '../ops/metrics.js';
import type { OutputStrategy } from './output-strategy.js';
import { predictionValue } from './prediction-record.js';

/**
 * Turns a lane's results into prediction records, in the lane's release order. A row without a
 * usable probability (features unavailable, inference failed, or a NaN/±Infinity from the
 * model) gets the model's fallback prediction, flagged and counted by reason.
 */
export class Predictions {
  count = 0;
  fallbacks = 0;

  constructor(
    private readonly opts: { topic: string; fallbackPrediction: number },
    private readonly output: OutputStrategy,
    private readonly metrics: Metrics,
    private readonly log: Logger,
  ) {}

  /** A reloaded model brings its own fallback_prediction. */
  setFallback(value: number): void {
    this.opts.fallbackPrediction = value;
  }

  onLaneResult(batch: LaneBatch, res: LaneResult): void {
    const now = Date.now();
    const { items } = batch;
    const { probs } = res;
    const topic = this.opts.topic;
    const fallbackValue = this.opts.fallbackPrediction;
    const versionJson = JSON.stringify(res.modelVersion);
    let nonFinite = 0;
    for (let i = 0; i < items.length; i++) {
      const it = items[i];
      let p = probs === null ? fallbackValue : probs[i];
      let fallback = probs === null;
      if (!fallback && !Number.isFinite(p)) {
        // JSON has no NaN or Infinity: a consumer would read null, or fail to parse.
        p = fallbackValue;
        fallback = true;
        nonFinite++;
      }
      const value = predictionValue(it.ev, p, now, versionJson, fallback, it.part, it.rec.offset);
      this.output.emit({ topic, key: it.ev.user_id, value }, it.part, it.rec.offset);
      this.metrics.endToEnd.observe((now - it.receivedAt) / 1000);
    }
    this.count += items.length;
    this.metrics.predictions.inc(items.length);
    if (probs === null) {
      const reason = batch.reason ?? 'model';
      if (reason === 'model') this.log.warn({ err: res.error?.message, rows: items.length }, 'inference failed; using the fallback prediction');
      this.fallbacks += items.length;
      this.metrics.fallbacks.inc({ reason }, items.length);
      return;
    }
    if (nonFinite) {
      this.log.warn({ rows: nonFinite, modelVersion: res.modelVersion }, 'the model returned NaN or Infinity; using the fallback prediction for those rows');
      this.fallbacks += nonFinite;
      this.metrics.fallbacks.inc({ reason: 'model' }, nonFinite);
    }
    if (res.batchRows) {
      this.metrics.inference.observe(res.inferUs / 1e6);
      this.metrics.batchSize.observe(res.batchRows);
    }
  }
}
