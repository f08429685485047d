import type { Config } from '../config/config.js';
import type { ValidationLimits } from '../ingest/event.js';
import type { LanePoolOptions } from '../lanes/lane-pool.js';

/** Validation limits from the settings (field length and time bounds are fixed). */
export function validationLimits(c: Config): ValidationLimits {
  return {
    maxMessageBytes: c.maxMessageBytes,
    maxFieldLength: 256,
    minTimestampMs: Date.UTC(2000, 0, 1),
    maxFutureSkewMs: 24 * 3600 * 1000,
  };
}

export function laneOptions(c: Config): LanePoolOptions {
  return {
    workers: c.workers,
    modelPath: c.modelPath,
    metaPath: c.resolvedMetaPath,
    maxBatch: c.maxBatch,
    maxWaitUs: c.maxWaitUs,
    restartBackoff: { initialMs: 10, maxMs: c.reconnectMaxMs, multiplier: 2 },
    maxRestarts: c.maxFailures,
    restartWindowMs: c.failureWindowMs,
  };
}
