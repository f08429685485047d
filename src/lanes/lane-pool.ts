import { MessageChannel } from 'node:worker_threads';
import { Piscina } from 'piscina';
import { FailureRateLimiter, backoffDelay, type BackoffOptions } from '../shared/backoff.js';
import { LaneError, ScorestreamError, fromErrorData } from '../shared/errors.js';
import type { FromWorker, LaneExit, LaneInit, ToWorker } from '../shared/lane-protocol.js';
import { Lane, type Entry, type LaneResult } from './lane.js';

export type { LaneResult } from './lane.js';

// Run the worker from the same kind of file as this module: .ts under tsx, .js once compiled.
const ext = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
const WORKER_FILE = new URL(`../../workers/lane-worker${ext}`, import.meta.url).href;

export interface LanePoolOptions {
  /** Number of lanes = worker threads. */
  workers: number;
  modelPath: string;
  metaPath: string;
  maxBatch: number;
  maxWaitUs: number;
  /** Delay before a crashed lane's worker is replaced. */
  restartBackoff: BackoffOptions;
  /** More crashes than this within `restartWindowMs` is fatal. Default 10 in 60 s. */
  maxRestarts: number;
  restartWindowMs: number;
}

export interface LanePoolEvents<C> {
  /** Results of each lane arrive in dispatch order. */
  onResult(ctx: C, res: LaneResult): void;
  onRestart?(lane: number, err: Error, delayMs: number): void;
  /** The restart limit was exceeded: the process should exit non-zero. */
  onFatal(err: Error): void;
}

/**
 * A fixed piscina pool with one long-lived task per lane. Each lane talks to its worker over its
 * own MessagePort (per-request `pool.run()` costs more than the inference it carries). A lane's
 * results are released in dispatch order, so per-user order holds even when some requests are
 * completed locally (fallback) or re-sent after a worker crash.
 */
export class LanePool<C> {
  private pool: Piscina | null = null;
  private readonly lanes: Lane<C>[];
  private closing = false;
  private readonly limiter: FailureRateLimiter;
  private currentModel: { modelPath: string; metaPath: string };
  private version = '';
  private reloadSeq = 0;
  /** Reloads in progress; `waiting` holds the lanes that still owe an answer. */
  private readonly reloads = new Map<number, { modelPath: string; metaPath: string; waiting: Set<number>; errors: ScorestreamError[]; versions: Set<string>; resolve: (r: ReloadOutcome) => void }>();
  totalRestarts = 0;

  constructor(private readonly opts: LanePoolOptions, private readonly events: LanePoolEvents<C>) {
    this.lanes = Array.from({ length: opts.workers }, (_, i) => new Lane<C>(i));
    this.limiter = new FailureRateLimiter(opts.maxRestarts, opts.restartWindowMs);
    this.currentModel = { modelPath: opts.modelPath, metaPath: opts.metaPath };
  }

  get size(): number {
    return this.lanes.length;
  }

  get modelVersion(): string {
    return this.version;
  }

  get allReady(): boolean {
    return this.lanes.every((l) => l.ready);
  }

  get rowsInFlight(): number {
    let s = 0;
    for (const l of this.lanes) s += l.rowsInFlight;
    return s;
  }

  laneThreadIds(): number[] {
    return this.lanes.map((l) => l.threadId);
  }

  /** Starts every lane and resolves when all have loaded the model; rejects with ModelLoadError otherwise. */
  async start(): Promise<void> {
    this.pool = new Piscina({
      filename: WORKER_FILE,
      minThreads: this.opts.workers,
      maxThreads: this.opts.workers,
      idleTimeout: Infinity,
      concurrentTasksPerWorker: 1,
      // The default 'sync' parks idle workers in Atomics.wait, which would stop the
      // micro-batcher's timers; our lane tasks never return while the lane lives anyway.
      atomics: 'disabled',
    });
    // Crashes surface as rejected lane tasks; this only keeps a stray pool error from being unhandled.
    this.pool.on('error', () => {});
    // Every lane settles (loaded, or failed to) before a failure is reported: the caller then
    // destroys the pool, and terminating a worker still inside InferenceSession.create aborts
    // the whole process (onnxruntime's native error, exit 134, seen in 2 of 12 corrupt-model starts).
    const settled = await Promise.allSettled(this.lanes.map((lane) => this.startLane(lane, true)));
    const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  }

  /** Sends `n` rows of features to a lane. The array is copied, not transferred: it is kept for re-sending after a crash. */
  dispatch(laneId: number, features: Float32Array, n: number, ctx: C): void {
    const lane = this.lanes[laneId];
    const e: Entry<C> = { id: lane.nextId++, n, features, ctx, result: null };
    lane.queue.push(e);
    lane.rowsInFlight += n;
    if (lane.ready) this.post(lane, { t: 'score', id: e.id, n, features });
  }

  /** Completes rows on the main thread (e.g. fallback), released in order with the lane's other results. */
  completeLocally(laneId: number, n: number, ctx: C, result: LaneResult): void {
    const lane = this.lanes[laneId];
    const e: Entry<C> = { id: lane.nextId++, n, features: null, ctx, result };
    lane.queue.push(e);
    lane.rowsInFlight += n;
    this.release(lane);
  }

  /** Fault injection: makes one lane's worker throw an uncaught error. */
  crashLane(laneId: number): void {
    this.post(this.lanes[laneId], { t: 'crash' });
  }

  /**
   * Two-phase model swap: every lane loads and checks the new model first; only when all have it
   * staged do they swap (each between two batches). If any lane refuses it, none swaps.
   */
  reload(modelPath: string, metaPath: string): Promise<ReloadOutcome> {
    const id = ++this.reloadSeq;
    return new Promise((resolve) => {
      this.reloads.set(id, { modelPath, metaPath, waiting: new Set(this.lanes.map((l) => l.id)), errors: [], versions: new Set(), resolve });
      for (const lane of this.lanes) this.post(lane, { t: 'reload', id, modelPath, metaPath });
    });
  }

  /**
   * Ends every lane task, then the pool. Terminating a worker inside session.run aborts the
   * whole process (onnxruntime's native error), so the lanes finish their batch first (bounded).
   */
  async close(waitMs = 5000): Promise<void> {
    this.closing = true;
    const ending = this.lanes.filter((l) => l.ready && l.ended).map((l) => l.ended!.catch(() => {}));
    for (const lane of this.lanes) if (lane.ready) this.post(lane, { t: 'close' });
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.all(ending), new Promise((r) => (timer = setTimeout(r, waitMs)))]);
    clearTimeout(timer);
    if (this.pool) await this.pool.destroy();
  }

  private async startLane(lane: Lane<C>, initial: boolean): Promise<void> {
    const { port1, port2 } = new MessageChannel();
    lane.port = port1;
    lane.ready = false;
    let readyResolve!: () => void;
    const ready = new Promise<void>((r) => (readyResolve = r));
    port1.on('message', (msg: FromWorker) => this.onMessage(lane, msg, readyResolve));
    const init: LaneInit = {
      laneId: lane.id,
      port: port2,
      modelPath: this.currentModel.modelPath,
      metaPath: this.currentModel.metaPath,
      maxBatch: this.opts.maxBatch,
      maxWaitUs: this.opts.maxWaitUs,
    };
    const task = this.pool!.run(init, { transferList: [port2 as never] }) as Promise<LaneExit>;
    // A lane task ends with a loadError when its model could not be loaded.
    const ended = task.then((exit) => {
      port1.close();
      if (exit.loadError) throw fromErrorData(exit.loadError);
    });
    lane.ended = ended;
    ended.catch((err: Error) => {
      port1.close();
      if (this.closing) return;
      if (!lane.ready && initial) return; // reported through `ready` below
      // A crash, or a replacement worker that could not load the model: both count as crashes.
      this.onLaneCrash(lane, err);
    });
    if (!initial) return;
    await Promise.race([
      ready,
      ended.then(
        () => {
          throw new LaneError(`lane ${lane.id} ended before it was ready`);
        },
        (err: Error) => {
          throw err instanceof ScorestreamError ? err : new LaneError(`lane ${lane.id} crashed while loading the model: ${err.message}`, { cause: err });
        },
      ),
    ]);
  }

  private onLaneCrash(lane: Lane<C>, err: Error): void {
    lane.ready = false;
    lane.port = null;
    lane.restarts++;
    this.totalRestarts++;
    if (this.limiter.record()) {
      this.events.onFatal(new LaneError(`worker lanes crashed more than ${this.opts.maxRestarts} times in ${this.opts.restartWindowMs} ms; last: ${err.message}`, { cause: err }));
      return;
    }
    const delay = backoffDelay(this.opts.restartBackoff, Math.min(lane.restarts - 1, 16));
    this.events.onRestart?.(lane.id, err, delay);
    setTimeout(() => {
      if (!this.closing) void this.startLane(lane, false);
    }, delay);
  }

  private onMessage(lane: Lane<C>, msg: FromWorker, onReady: () => void): void {
    switch (msg.t) {
      case 'ready': {
        lane.ready = true;
        lane.threadId = msg.threadId;
        this.version ||= msg.modelVersion;
        // Re-send what the previous worker did not answer, in the original order.
        for (let i = lane.head; i < lane.queue.length; i++) {
          const e = lane.queue[i];
          if (!e.result && e.features) this.post(lane, { t: 'score', id: e.id, n: e.n, features: e.features });
        }
        // A reload in progress may have been lost with the previous worker, or answered by it
        // before this one started from the old model: this worker must reload too.
        for (const [id, r] of this.reloads) {
          r.waiting.add(lane.id);
          this.post(lane, { t: 'reload', id, modelPath: r.modelPath, metaPath: r.metaPath });
        }
        onReady();
        break;
      }
      case 'scored': {
        const e = lane.queue[msg.id - (lane.queue.length ? lane.queue[0].id : 0)];
        if (!e || e.id !== msg.id || e.result) return;
        e.result = { probs: msg.probs, error: msg.error && fromErrorData(msg.error), modelVersion: msg.modelVersion, inferUs: msg.inferUs, batchRows: msg.batchRows };
        this.release(lane);
        break;
      }
      case 'reload_ready':
      case 'reload_failed': {
        const r = this.reloads.get(msg.id);
        if (!r || !r.waiting.delete(lane.id)) return;
        if (msg.t === 'reload_ready') r.versions.add(msg.modelVersion);
        else r.errors.push(fromErrorData(msg.error));
        if (r.waiting.size === 0) {
          this.reloads.delete(msg.id);
          if (r.errors.length || r.versions.size !== 1) {
            for (const l of this.lanes) this.post(l, { t: 'discard', id: msg.id });
            r.resolve({ ok: false, error: r.errors[0] ?? new LaneError(`lanes loaded different versions: ${[...r.versions]}`) });
          } else {
            // Set before the swap goes out, so a lane restarted from now on starts on the new model.
            this.currentModel = { modelPath: r.modelPath, metaPath: r.metaPath };
            this.version = [...r.versions][0];
            for (const l of this.lanes) this.post(l, { t: 'swap', id: msg.id });
            r.resolve({ ok: true, modelVersion: this.version });
          }
        }
        break;
      }
    }
  }

  private release(lane: Lane<C>): void {
    while (lane.head < lane.queue.length) {
      const e = lane.queue[lane.head];
      if (!e.result) break;
      lane.head++;
      lane.rowsInFlight -= e.n;
      e.features = null;
      this.events.onResult(e.ctx, e.result);
    }
    if (lane.head > 256 && lane.head * 2 > lane.queue.length) {
      lane.queue = lane.queue.slice(lane.head);
      lane.head = 0;
    }
  }

  private post(lane: Lane<C>, msg: ToWorker): void {
    lane.port?.postMessage(msg);
  }
}

export type ReloadOutcome = { ok: true; modelVersion: string } | { ok: false; error: ScorestreamError };
