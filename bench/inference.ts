import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { availableParallelism } from 'node:os';
import { LanePool } from '../src/lanes/lane-pool.js';
import { ModelSession } from '../workers/model-session.js';
import { encodeHistogram, decodeHistogram, newLatencyHistogram, percentilesOf } from './histogram.js';
import { startThread } from './thread.js';
import { ROOT } from './services.js';

/**
 * Inference alone, no Kafka or Redis: (1) one ModelSession on one worker thread, calls of each
 * batch size back to back; (2) through the engine's LanePool (the same worker code, ports and
 * micro-batcher as in production), requests of 1 and of 64 rows with a bounded number in flight.
 * Per-call latency is recorded in µs in HDR histograms.
 */

/** The seeds' claim for the same kind of model (inference only, single row). */
export const SEEDS_REQ_PER_S = 33_057;

export interface InferenceSizeResult {
  batch_size: number;
  calls: number;
  calls_per_s: number;
  rows_per_s: number;
  us_per_row: number;
  histogram: string;
}

export interface PoolResult {
  workers: number;
  rows_per_request: number;
  in_flight_per_lane: number;
  requests: number;
  rows_per_s: number;
  histogram: string;
}

const MODEL = `${ROOT}/models/model.onnx`;
const META = `${ROOT}/models/model.json`;

/** Realistic feature rows: small counts, gaps up to a day. */
function rows(n: number, seed = 7): Float32Array {
  const f = new Float32Array(n * 4);
  let s = seed;
  const r = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 4294967296);
  for (let i = 0; i < n; i++) {
    f[i * 4] = Math.floor(r() * 40);
    f[i * 4 + 1] = Math.floor(r() * 6);
    f[i * 4 + 2] = Math.floor(r() * 2);
    f[i * 4 + 3] = r() * 1440;
  }
  return f;
}

const ext = import.meta.url.endsWith('.ts') ? '.ts' : '.js';

/** Scores each batch size for `msPerSize` on one worker thread. */
export async function inferenceAlone(batchSizes: number[], msPerSize: number): Promise<InferenceSizeResult[]> {
  const worker = startThread(new URL(`./inference${ext}`, import.meta.url), { role: 'inference', batchSizes, msPerSize });
  try {
    return await new Promise<InferenceSizeResult[]>((resolve, reject) => {
      worker.once('message', (m: { results?: InferenceSizeResult[]; error?: string }) => (m.results ? resolve(m.results) : reject(new Error(`inference worker: ${m.error}`))));
      worker.once('error', reject);
    });
  } finally {
    await worker.terminate();
  }
}

async function runThread(d: { batchSizes: number[]; msPerSize: number }): Promise<void> {
  const model = await ModelSession.load(MODEL, META);
  const max = Math.max(...d.batchSizes);
  const features = rows(max);
  const results: InferenceSizeResult[] = [];
  for (const n of d.batchSizes) {
    const input = features.subarray(0, n * 4);
    for (let i = 0; i < 200; i++) await model.score(input, n);
    const h = newLatencyHistogram();
    let calls = 0;
    const start = performance.now();
    const end = start + d.msPerSize;
    let t = start;
    while (t < end) {
      await model.score(input, n);
      const t2 = performance.now();
      h.recordValue(Math.max(1, Math.round((t2 - t) * 1000)));
      t = t2;
      calls++;
    }
    const secs = (t - start) / 1000;
    results.push({ batch_size: n, calls, calls_per_s: Math.round(calls / secs), rows_per_s: Math.round((calls * n) / secs), us_per_row: Math.round((secs * 1e6 * 100) / (calls * n)) / 100, histogram: encodeHistogram(h) });
  }
  parentPort!.postMessage({ results });
}

/** Closed loop through the LanePool: `inFlight` requests per lane of `rowsPerRequest` rows, for `ms`. */
export async function inferencePool(opts: { workers?: number; rowsPerRequest: number; inFlightPerLane: number; ms: number; maxBatch?: number; maxWaitUs?: number }): Promise<PoolResult> {
  const workers = opts.workers ?? availableParallelism();
  const h = newLatencyHistogram();
  let done = 0;
  let measuring = false;
  let stopAt = 0;
  let finish!: () => void;
  const finished = new Promise<void>((r) => (finish = r));
  let outstanding = 0;
  const features = rows(opts.rowsPerRequest);
  const pool: LanePool<{ lane: number; at: number }> = new LanePool(
    {
      workers,
      modelPath: MODEL,
      metaPath: META,
      maxBatch: opts.maxBatch ?? 64,
      maxWaitUs: opts.maxWaitUs ?? 500,
      restartBackoff: { initialMs: 10, maxMs: 1000, multiplier: 2 },
      maxRestarts: 3,
      restartWindowMs: 60_000,
    },
    {
      onResult: (ctx) => {
        outstanding--;
        const now = performance.now();
        if (measuring) {
          h.recordValue(Math.max(1, Math.round((now - ctx.at) * 1000)));
          done++;
        }
        if (now < stopAt) send(ctx.lane);
        else if (outstanding === 0) finish();
      },
      onFatal: (err) => {
        throw err;
      },
    },
  );
  const send = (lane: number): void => {
    outstanding++;
    pool.dispatch(lane, features, opts.rowsPerRequest, { lane, at: performance.now() });
  };
  await pool.start();
  try {
    // Warm-up, then the measured period.
    const warmMs = Math.min(500, opts.ms / 2);
    stopAt = performance.now() + warmMs + opts.ms;
    for (let l = 0; l < workers; l++) for (let i = 0; i < opts.inFlightPerLane; i++) send(l);
    await new Promise((r) => setTimeout(r, warmMs));
    measuring = true;
    const t0 = performance.now();
    await finished;
    const secs = (performance.now() - t0) / 1000;
    return { workers, rows_per_request: opts.rowsPerRequest, in_flight_per_lane: opts.inFlightPerLane, requests: done, rows_per_s: Math.round((done * opts.rowsPerRequest) / secs), histogram: encodeHistogram(h) };
  } finally {
    await pool.close();
  }
}

export { decodeHistogram, percentilesOf };

if (!isMainThread && (workerData as { role?: string } | null)?.role === 'inference') {
  runThread(workerData as { batchSizes: number[]; msPerSize: number }).catch((err: Error) => parentPort!.postMessage({ error: err.message }));
}
