import { threadId } from 'node:worker_threads';
import { MicroBatcher } from './micro-batcher.js';
import { ModelSession } from './model-session.js';
import type { FromWorker, LaneExit, LaneInit, ToWorker } from '../src/shared/lane-protocol.js';
import { ModelLoadError, toErrorData, type ErrorData } from '../src/shared/errors.js';
import { sameDeclaredFeatures } from '../src/shared/model-meta.js';

interface Job {
  id: number;
  rows: number;
  features: Float32Array;
}

// Fault suite only (with SCORESTREAM_FAULT_INJECTION=1): slows every micro-batch by this much,
// to hold events in flight and exercise backpressure.
const INJECTED_DELAY_MS =
  process.env.SCORESTREAM_FAULT_INJECTION === '1' ? Number(process.env.SCORESTREAM_INJECT_BATCH_DELAY_MS ?? 0) : 0;

// Loaded once per thread and kept across lane tasks (a lane restarted on a surviving thread
// reuses it); replaced only by a checked hot reload.
let model: ModelSession | null = null;

/**
 * Piscina task that runs one lane for as long as the lane lives: it owns the lane's port,
 * coalesces score requests into micro-batches and runs one session.run per batch.
 */
export default async function runLane(init: LaneInit): Promise<LaneExit> {
  const port = init.port as import('node:worker_threads').MessagePort;
  const post = (msg: FromWorker, transfer?: ArrayBuffer[]) => port.postMessage(msg, transfer as never);
  if (!model || model.path !== init.modelPath) {
    try {
      model = await ModelSession.load(init.modelPath, init.metaPath);
    } catch (err) {
      // As data: a rejected task would reach the main thread as a plain Error without its fields.
      port.close();
      return { laneId: init.laneId, scoredRows: 0, loadError: toErrorData(err) };
    }
  }
  let scoredRows = 0;
  // Models loaded and checked for a reload, waiting for every lane to agree before the swap.
  const staged = new Map<number, ModelSession>();

  const batcher = new MicroBatcher<Job>({ maxBatch: init.maxBatch, maxWaitUs: init.maxWaitUs }, async (jobs, rows) => {
    const m = model!;
    const w = m.width;
    const features = new Float32Array(rows * w);
    let at = 0;
    for (const j of jobs) {
      features.set(j.features, at);
      at += j.features.length;
    }
    const t0 = performance.now();
    let probs: Float32Array | null = null;
    let error: ErrorData | undefined;
    try {
      probs = new Float32Array(rows);
      // A single oversized request is scored in maxBatch-row chunks: per-row cost rises again
      // past the batch sizes the forest is fast at.
      for (let r = 0; r < rows; r += init.maxBatch) {
        const k = Math.min(init.maxBatch, rows - r);
        probs.set(await m.score(features.subarray(r * w, (r + k) * w), k), r);
      }
    } catch (err) {
      probs = null;
      error = toErrorData(err);
    }
    if (INJECTED_DELAY_MS > 0) await new Promise((r) => setTimeout(r, INJECTED_DELAY_MS));
    const inferUs = Math.round((performance.now() - t0) * 1000);
    scoredRows += rows;
    let off = 0;
    for (let k = 0; k < jobs.length; k++) {
      const j = jobs[k];
      const slice = probs ? probs.slice(off, off + j.rows) : null;
      off += j.rows;
      // The batch's size and time ride on its first request only, so the main thread's
      // histograms count each micro-batch once.
      const first = k === 0;
      post({ t: 'scored', id: j.id, probs: slice, error, modelVersion: m.version, inferUs: first ? inferUs : 0, batchRows: first ? rows : 0 }, slice ? [slice.buffer as ArrayBuffer] : undefined);
    }
  });

  return new Promise<LaneExit>((resolve) => {
    port.on('message', (msg: ToWorker) => {
      switch (msg.t) {
        case 'score':
          batcher.add({ id: msg.id, rows: msg.n, features: msg.features });
          break;
        case 'reload':
          void stage(msg.id, msg.modelPath, msg.metaPath);
          break;
        case 'swap': {
          // Takes effect from the next batch: a flush in progress keeps the model it started with.
          const next = staged.get(msg.id);
          staged.delete(msg.id);
          if (next && next !== model) {
            const old = model;
            model = next;
            void old?.release();
          }
          break;
        }
        case 'discard':
          void staged.get(msg.id)?.release();
          staged.delete(msg.id);
          break;
        case 'close':
          // The main thread closes after its shutdown drain: what is still queued is not
          // committed and will be redone after a restart. Only the batch in progress finishes,
          // so the thread is never terminated inside session.run (onnxruntime aborts the process).
          batcher.discardPending();
          void batcher.drain().then(() => {
            port.close();
            resolve({ laneId: init.laneId, scoredRows });
          });
          break;
        case 'crash':
          setImmediate(() => {
            throw new Error(`injected crash in lane ${init.laneId}`);
          });
          break;
      }
    });
    post({ t: 'ready', laneId: init.laneId, modelVersion: model!.version, threadId });
  });

  async function stage(id: number, modelPath: string, metaPath: string): Promise<void> {
    try {
      const next = await ModelSession.load(modelPath, metaPath);
      if (model && !sameDeclaredFeatures(model.meta, next.meta)) {
        void next.release();
        throw new ModelLoadError(modelPath, `declares other features (${next.meta.feature_names.join(', ')}) than the running model (${model.meta.feature_names.join(', ')}); changing the feature set needs a restart`);
      }
      staged.set(id, next);
      post({ t: 'reload_ready', id, modelVersion: next.version });
    } catch (err) {
      post({ t: 'reload_failed', id, error: toErrorData(err) });
    }
  }
}
