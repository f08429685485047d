/** Messages between the main thread and a lane's worker, over the lane's own MessagePort. */
import type { ErrorData } from './errors.js';

export interface LaneInit {
  laneId: number;
  port: MessagePort | import('node:worker_threads').MessagePort;
  modelPath: string;
  metaPath: string;
  maxBatch: number;
  maxWaitUs: number;
}

export type ToWorker =
  /** Score `n` rows (the model's declared width of float32 features each). `id` comes back with the result. */
  | { t: 'score'; id: number; n: number; features: Float32Array }
  /** Load and check another model, keep it staged, and answer reload_ready or reload_failed. */
  | { t: 'reload'; id: number; modelPath: string; metaPath: string }
  /** Every lane staged reload `id`: serve it from the next batch on. */
  | { t: 'swap'; id: number }
  /** Some lane refused reload `id`: drop the staged model, keep serving the old one. */
  | { t: 'discard'; id: number }
  /** Finish the batch in progress, drop what is queued (uncommitted: redone after a restart), end the lane task. */
  | { t: 'close' }
  /** Fault injection for the fault suite: throw an uncaught error on this thread. */
  | { t: 'crash' };

export type FromWorker =
  | { t: 'ready'; laneId: number; modelVersion: string; threadId: number }
  /** `probs` is null when inference failed (`error` says why): the rows fall back. batchRows/inferUs describe the micro-batch and are 0 on all but its first request. */
  | { t: 'scored'; id: number; probs: Float32Array | null; error?: ErrorData; modelVersion: string; inferUs: number; batchRows: number }
  | { t: 'reload_ready'; id: number; modelVersion: string }
  | { t: 'reload_failed'; id: number; error: ErrorData };

export interface LaneExit {
  laneId: number;
  scoredRows: number;
  /** Set when the lane ended because its model could not be loaded (the task's result, so it cannot race the port). */
  loadError?: ErrorData;
}
