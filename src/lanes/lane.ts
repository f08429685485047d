import type { MessagePort } from 'node:worker_threads';
import type { ScorestreamError } from '../shared/errors.js';

export interface LaneResult {
  /** One probability per row, or null when the rows fall back (model failed or local fallback). */
  probs: Float32Array | null;
  /** Why the rows fall back (InferenceError from the worker, or the caller's own for local completions). */
  error?: ScorestreamError;
  modelVersion: string;
  inferUs: number;
  batchRows: number;
}

/** One dispatched request of a lane, kept until its result is released in order. */
export interface Entry<C> {
  id: number;
  n: number;
  features: Float32Array | null;
  ctx: C;
  result: LaneResult | null;
}

/** The main thread's side of one lane: its port, its worker's state and its requests in dispatch order. */
export class Lane<C> {
  port: MessagePort | null = null;
  ready = false;
  threadId = -1;
  /** Entries in dispatch order; results are released from the front only. */
  queue: Entry<C>[] = [];
  head = 0;
  nextId = 0;
  rowsInFlight = 0;
  restarts = 0;
  /** The lane task's end (resolves when it closed, rejects on a crash). */
  ended: Promise<void> | null = null;
  constructor(readonly id: number) {}
}
