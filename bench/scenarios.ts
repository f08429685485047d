import { MULTI_PROCESS_DEFAULTS, runMultiProcess } from './multi-process.js';
import { availableParallelism } from 'node:os';
import { SETTINGS } from '../src/config/config.js';
import type { BenchOptions, ScenarioName } from './cli-options.js';
import { decodeHistogram, percentilesOf } from './histogram.js';
import { SEEDS_REQ_PER_S, inferenceAlone, inferencePool } from './inference.js';
import type { RunSpec, StepPlan, StepResult, TargetConfig } from './load-run.js';
import type { Progress } from './progress.js';
import { stepEntry, sweepSummary, type Results } from './results.js';
import { sweep, type LadderOptions, type SweepResult } from './sweep.js';
import type { TargetKind } from './target-process.js';
import { amdahlOf, pinServices, scalingPoint, type ScalingPoint } from './cpu-scaling.js';
import { ensureHeavyModel, HEAVY_TREES } from './heavy-model.js';
import { cpuLayout } from './pinning.js';

/** The six scenarios of the bench. Each appends its entries to `results`. */

export interface BenchContext {
  opts: BenchOptions;
  progress: Progress;
  results: Results;
  /** Sweeps by name, for the summary, charts and seeding later ladders. */
  sweeps: Map<string, SweepResult>;
  /** Epoch ms after which sweeps start no new step (--budget). */
  deadline: number;
}

const CPUS = availableParallelism();

export const DEFAULT_CONFIG: TargetConfig = {
  workers: CPUS,
  max_batch: SETTINGS.maxBatch.default as number,
  max_wait_us: SETTINGS.maxWaitUs.default as number,
  guarantee: 'at-least-once',
};
const SINGLE_THREAD: TargetConfig = { workers: 1, max_batch: null, max_wait_us: null, guarantee: 'at-least-once' };

/** The reference rate: the seeds' target of 1,000+ events/s. */
export const REFERENCE_RATE = 1000;

/** Each measured step holds 10,000 events (at least 3 s, at most 10 s) unless --duration says otherwise. */
export function stepDurationMs(rate: number, durationS: number | null): number {
  if (durationS !== null) return durationS * 1000;
  return Math.round(Math.min(10, Math.max(3, 10_000 / rate)) * 1000);
}

function timing(ctx: BenchContext): (rate: number) => Omit<StepPlan, 'rate'> {
  return (rate) => ({ warmupMs: ctx.opts.warmupS * 1000, durationMs: stepDurationMs(rate, ctx.opts.durationS), drainTimeoutMs: ctx.opts.quick ? 2000 : 5000 });
}

function ladder(ctx: BenchContext, quickRates: number[], seed?: number): LadderOptions {
  const base: LadderOptions = { start: REFERENCE_RATE, factor: 1.5, maxSteps: 12, floor: 100, refine: !ctx.opts.quick, deadline: ctx.deadline };
  if (ctx.opts.rates) return { ...base, rates: ctx.opts.rates };
  if (ctx.opts.quick) return { ...base, rates: quickRates, repeatFailed: false };
  // Later sweeps start at the reference rate (for p99 there) and then skip to about half the
  // default configuration's maximum, which saves steps that would certainly hold.
  return seed ? { ...base, skipBelow: seed * 0.5 } : base;
}

async function runSweep(ctx: BenchContext, key: string, name: string, kind: TargetKind, config: TargetConfig, l: LadderOptions, env?: Record<string, string>): Promise<SweepResult> {
  const spec: RunSpec = { kind, config, runtime: ctx.opts.runtime, partitions: ctx.opts.partitions, users: ctx.opts.users, harness: harnessSettings(ctx), nice: ctx.opts.nice, warmup: { rate: REFERENCE_RATE, ms: ctx.opts.quick ? 1000 : 3000 }, env };
  const label = `${name}${key.includes('#') ? ` ${key.slice(key.indexOf('#'))}` : ''} ${describe(kind, config)}`;
  let rate = 0;
  let stepStart = Date.now();
  const t = timing(ctx);
  const res = await sweep(spec, l, t, {
    onStep: (r) => {
      rate = r;
      stepStart = Date.now();
      ctx.progress.status(`${label}: ${r}/s starting`);
    },
    onTick: (s) => {
      const el = ((Date.now() - stepStart) / 1000).toFixed(1);
      const plan = t(rate);
      ctx.progress.status(`${label}: ${rate}/s ${s.phase} ${el}s/${(plan.warmupMs + plan.durationMs) / 1000}s | read ${s.read} | window done ${s.completed}`);
    },
    onStepDone: (r) => {
      ctx.progress.line(`${label}: ${r.target_rate}/s${r.attempt > 1 ? ' (repeat)' : ''} -> ${r.achieved_rate}/s p50 ${fmt(r.latency.p50_ms)} p99 ${fmt(r.latency.p99_ms)} ms${r.cpu.main_thread_us_per_event !== null ? ` main ${r.cpu.main_thread_us_per_event} us/ev` : ''} cpu ${r.cpu.target_pct ?? '?'}% harness ${r.cpu.harness_pct ?? '?'}% machine ${r.cpu.machine_pct ?? '?'}% ${r.held ? 'held' : `NOT held (${r.verdict})`}`);
    },
  });
  const run = key.includes('#') ? Number(key.slice(key.indexOf('#') + 1)) : 1;
  for (const s of res.steps) ctx.results.scenarios.push(stepEntry(name, config, s, run));
  ctx.results.sweeps.push({ ...sweepSummary(name, res), name: key });
  ctx.sweeps.set(key, res);
  ctx.progress.line(`${label}: max sustainable ${res.max_sustainable_eps}/s${res.failed_at ? ` (${res.failed_at}/s: ${res.failure})` : ''}`);
  return res;
}

function describe(kind: TargetKind, c: TargetConfig): string {
  if (kind !== 'engine') return `(${kind})`;
  return `(workers ${c.workers}, maxBatch ${c.max_batch}, maxWait ${c.max_wait_us}us, ${c.guarantee})`;
}

const fmt = (x: number): string => (Number.isFinite(x) ? x.toFixed(x < 10 ? 2 : 1) : '-');

/** Step at the reference rate, if the sweep ran one (its repeat, if it was repeated). */
export function stepAt(s: SweepResult | undefined, rate = REFERENCE_RATE): StepResult | undefined {
  return s?.steps.filter((x) => x.target_rate === rate).pop();
}

export function harnessSettings(ctx: BenchContext) {
  return { tickMs: ctx.opts.tickMs, fetchWaitMs: 20, client: ctx.opts.harnessClient };
}

/** The highest step that held (the ceiling's near side). */
export function bestStep(s: SweepResult | undefined): StepResult | undefined {
  return s?.steps.filter((x) => x.held).sort((a, b) => b.target_rate - a.target_rate)[0];
}

/** The first step that did not hold (the ceiling's far side). */
export function failedStep(s: SweepResult | undefined): StepResult | undefined {
  return s?.steps.filter((x) => !x.held && x.target_rate > (bestStep(s)?.target_rate ?? 0)).sort((a, b) => a.target_rate - b.target_rate)[0];
}

// ---------------------------------------------------------------- scenarios

/** The default configuration, swept --repeat times back to back; the spread is the bench's own noise. */
async function rateSweep(ctx: BenchContext): Promise<void> {
  const runs: { run: number; max_sustainable_eps: number; p99_ms_at_1000eps: number | null }[] = [];
  for (let i = 1; i <= ctx.opts.repeat; i++) {
    const key = i === 1 ? 'rate-sweep' : `rate-sweep#${i}`;
    const s = await runSweep(ctx, key, 'rate-sweep', 'engine', DEFAULT_CONFIG, ladder(ctx, [1000, 2000]));
    runs.push({ run: i, max_sustainable_eps: s.max_sustainable_eps, p99_ms_at_1000eps: stepAt(s)?.latency.p99_ms ?? null });
  }
  ctx.results.rate_sweep_runs = { runs, max_sustainable_eps: spread(runs.map((r) => r.max_sustainable_eps)), p99_ms_at_1000eps: spread(runs.map((r) => r.p99_ms_at_1000eps).filter((x): x is number => x !== null)) };
}

/** min / median / max, and the largest deviation from the median in % of it. */
export function spread(xs: number[]): { min: number; median: number; max: number; spread_pct: number } | null {
  if (!xs.length) return null;
  const v = [...xs].sort((a, b) => a - b);
  const median = v.length % 2 ? v[(v.length - 1) / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
  const dev = median > 0 ? Math.max(median - v[0], v[v.length - 1] - median) / median : 0;
  return { min: v[0], median, max: v[v.length - 1], spread_pct: Math.round(dev * 1000) / 10 };
}

async function baselines(ctx: BenchContext): Promise<void> {
  const seed = ctx.sweeps.get('rate-sweep')?.max_sustainable_eps;
  await runSweep(ctx, 'baseline-passthrough', 'baseline-passthrough', 'passthrough', SINGLE_THREAD, ladder(ctx, [1000], seed));
  // The same pass-through on the other Kafka client, same ladder: the two clients side by side.
  await runSweep(ctx, 'baseline-passthrough-platformatic', 'baseline-passthrough-platformatic', 'passthrough-platformatic', SINGLE_THREAD, ladder(ctx, [1000], seed));
  await runSweep(ctx, 'baseline-naive', 'baseline-naive', 'naive', SINGLE_THREAD, ladder(ctx, [1000]));
}

/**
 * Workers 1..CPUs for the default model and a heavy one (inference matters): backlog drain rate and
 * p99 at a fixed rate per point, CPU per thread class, processes pinned (see pinning.ts).
 */
async function cpuScaling(ctx: BenchContext): Promise<void> {
  const layout = cpuLayout();
  // --quick: the default model only (training the heavy one takes minutes; CI has no cache).
  const heavy = ctx.opts.quick ? null : ensureHeavyModel(true, (l) => ctx.progress.line(l));
  const models: [string, Record<string, string>][] = [['default (100 trees)', {}]];
  if (heavy) models.push([`heavy (${HEAVY_TREES} trees)`, { MODEL_PATH: heavy, MODEL_META_PATH: heavy.replace(/model\.onnx$/, 'model.json') }]);
  const counts = ctx.opts.workerCounts;
  const points: ScalingPoint[] = [];
  ctx.progress.line(`cpu-scaling layout: ${layout?.description ?? 'not pinned (taskset unavailable or 1 CPU)'}`);
  const unpin = pinServices(layout);
  try {
    for (const [model, env] of models) {
      for (const w of counts) {
        if (Date.now() > ctx.deadline) break;
        ctx.progress.status(`cpu-scaling: ${model}, ${w} worker(s): draining ${ctx.opts.backlog} events`);
        const p = await scalingPoint(
          { runtime: ctx.opts.runtime, partitions: ctx.opts.partitions, users: ctx.opts.users, harness: harnessSettings(ctx), backlog: ctx.opts.backlog, fixedRate: REFERENCE_RATE, stepMs: ctx.opts.quick ? 1500 : 10_000, layout, nice: ctx.opts.nice, base: DEFAULT_CONFIG, log: (l) => ctx.progress.line(l) },
          model,
          env,
          w,
        );
        points.push(p);
        ctx.progress.line(`cpu-scaling ${model}, ${w} worker(s): drain ${p.drain_eps ?? '-'}/s (main ${p.drain_cpu?.main_pct ?? '-'}%, workers ${p.drain_cpu?.workers_pct ?? '-'}%, broker ${p.drain_cpu?.broker_pct ?? '-'}%), p99 @${REFERENCE_RATE}/s ${p.p99_ms_at_rate ?? '-'} ms${p.error ? `; FAILED: ${p.error.slice(0, 300)}` : ''}`);
      }
    }
  } finally {
    unpin();
  }
  const amdahl = models.map(([m]) => amdahlOf(points.find((p) => p.model === m && p.workers === 1 && p.drain_cpu))).filter((a) => a !== null);
  ctx.results.cpu_scaling = {
    cpus: CPUS,
    layout: layout?.description ?? 'not pinned',
    heavy_model: heavy ? `${HEAVY_TREES}-tree forest on the same 4 features (models/train.py --n-estimators ${HEAVY_TREES})` : ctx.opts.quick ? 'not run in --quick' : 'training failed',
    backlog_events: ctx.opts.backlog,
    fixed_rate_eps: REFERENCE_RATE,
    points,
    amdahl,
  };
}

async function inference(ctx: BenchContext): Promise<void> {
  const sizes = ctx.opts.quick ? [1, 64] : [1, 2, 4, 8, 16, 32, 64, 128, 256, 512];
  const msPerSize = ctx.opts.quick ? 150 : 700;
  ctx.progress.status(`inference: one ONNX session, batch sizes ${sizes.join(',')}`);
  const single = await inferenceAlone(sizes, msPerSize);
  for (const r of single) {
    const p = percentilesOf(decodeHistogram(r.histogram));
    ctx.results.scenarios.push({
      name: 'inference-single',
      id: `inference-single:b${r.batch_size}`,
      config: { workers: 1, max_batch: r.batch_size, max_wait_us: null, guarantee: 'at-least-once' },
      target_rate: null,
      achieved_rate: r.rows_per_s,
      ...pick(p),
      events: r.calls * r.batch_size,
      fallbacks: 0,
      errors: 0,
      batch_size: r.batch_size,
      calls_per_s: r.calls_per_s,
      us_per_row: r.us_per_row,
      hdr: r.histogram,
    });
    ctx.progress.line(`inference one thread, batch ${r.batch_size}: ${r.rows_per_s} rows/s, ${r.calls_per_s} calls/s, p50 ${p.p50_ms} ms p99 ${p.p99_ms} ms per call`);
  }
  const pool = [];
  for (const [rowsPerRequest, inFlight] of [
    [1, 64],
    [64, 4],
  ] as const) {
    ctx.progress.status(`inference through the lane pool: ${rowsPerRequest}-row requests`);
    const r = await inferencePool({ rowsPerRequest, inFlightPerLane: inFlight, ms: ctx.opts.quick ? 300 : 2000, maxBatch: DEFAULT_CONFIG.max_batch!, maxWaitUs: DEFAULT_CONFIG.max_wait_us! });
    const p = percentilesOf(decodeHistogram(r.histogram));
    ctx.results.scenarios.push({
      name: 'inference-pool',
      id: `inference-pool:w${r.workers}:r${rowsPerRequest}`,
      config: { ...DEFAULT_CONFIG, workers: r.workers },
      target_rate: null,
      achieved_rate: r.rows_per_s,
      ...pick(p),
      events: r.requests * rowsPerRequest,
      fallbacks: 0,
      errors: 0,
      rows_per_request: rowsPerRequest,
      hdr: r.histogram,
    });
    pool.push({ workers: r.workers, rows_per_request: rowsPerRequest, in_flight_per_lane: inFlight, rows_per_s: r.rows_per_s, p50_ms: p.p50_ms, p99_ms: p.p99_ms });
    ctx.progress.line(`inference pool (${r.workers} workers), ${rowsPerRequest}-row requests: ${r.rows_per_s} rows/s, p50 ${p.p50_ms} ms p99 ${p.p99_ms} ms per request`);
  }
  const one = single.find((r) => r.batch_size === 1);
  const bestRows = Math.max(...single.map((r) => r.rows_per_s));
  ctx.results.inference = {
    seeds_req_per_s: SEEDS_REQ_PER_S,
    single_row_calls_per_s: one?.calls_per_s ?? null,
    single_row_vs_seeds: one ? round2(one.calls_per_s / SEEDS_REQ_PER_S) : null,
    best_batched_rows_per_s: bestRows,
    best_batched_vs_seeds: round2(bestRows / SEEDS_REQ_PER_S),
    single_thread: single.map(({ histogram: _h, ...r }) => ({ ...r, ...pick(percentilesOf(decodeHistogram(_h))) })),
    pool,
  };
}

async function microBatching(ctx: BenchContext): Promise<void> {
  const def = ctx.sweeps.get('rate-sweep');
  const seed = def?.max_sustainable_eps;
  const settings: [number, number][] = ctx.opts.quick
    ? [[16, 250], [DEFAULT_CONFIG.max_batch!, DEFAULT_CONFIG.max_wait_us!]]
    : [[1, 0], [16, 250], [DEFAULT_CONFIG.max_batch!, DEFAULT_CONFIG.max_wait_us!], [256, 2000]];
  const rows: Record<string, unknown>[] = [];
  for (const [b, u] of settings) {
    const isDefault = b === DEFAULT_CONFIG.max_batch && u === DEFAULT_CONFIG.max_wait_us;
    const key = `micro-batching:b${b}:u${u}`;
    let s: SweepResult;
    if (isDefault && def) {
      s = def;
      ctx.sweeps.set(key, def);
    } else {
      s = await runSweep(ctx, key, 'micro-batching', 'engine', { ...DEFAULT_CONFIG, max_batch: b, max_wait_us: u }, ladder(ctx, [1000], seed));
    }
    const best = bestStep(s);
    rows.push({
      max_batch: b,
      max_wait_us: u,
      default: isDefault,
      max_sustainable_eps: s.max_sustainable_eps,
      p99_ms_at_1000eps: stepAt(s)?.latency.p99_ms ?? null,
      p99_ms_at_max: best?.latency.p99_ms ?? null,
      mean_batch_rows_at_max: best?.mean_batch_rows ?? null,
      mean_inference_us_per_batch_at_max: best?.mean_inference_us_per_batch ?? null,
      source: s === def ? 'rate-sweep' : 'micro-batching',
    });
  }
  ctx.results.micro_batching = rows;
}

async function exactlyOnce(ctx: BenchContext): Promise<void> {
  await runSweep(ctx, 'exactly-once', 'exactly-once', 'engine', { ...DEFAULT_CONFIG, guarantee: 'exactly-once' }, ladder(ctx, [1000]));
}

/** The last step run within ±20% of `rate` (the ladder's rates are not round: 5,300 for 5,000). */
function stepNear(s: SweepResult | undefined, rate: number): StepResult | undefined {
  return s?.steps.filter((x) => Math.abs(x.target_rate - rate) <= rate * 0.2).pop();
}

/** What one Kafka client's engine showed in this run: the figures issue 13 sets targets for. */
function clientFigures(alo: SweepResult | undefined, eos: SweepResult | undefined, drainPoint: ScalingPoint | undefined) {
  const at1000 = stepAt(alo);
  const near5000 = stepNear(alo, 5000);
  return {
    max_sustainable_eps: alo ? alo.max_sustainable_eps : null,
    p50_ms_at_1000eps: at1000?.latency.p50_ms ?? null,
    p99_ms_at_1000eps: at1000?.latency.p99_ms ?? null,
    near_5000: near5000 ? { rate: near5000.target_rate, p99_ms: near5000.latency.p99_ms } : null,
    exactly_once_max_eps: eos ? eos.max_sustainable_eps : null,
    exactly_once_p99_ms_at_1000eps: stepAt(eos)?.latency.p99_ms ?? null,
    drain_eps: drainPoint?.drain_eps ?? null,
    drain_engine_us_per_event: drainPoint?.drain_cpu?.engine_us_per_event ?? null,
    drain_main_us_per_event: drainPoint?.drain_cpu?.main_us_per_event ?? null,
  };
}

/**
 * The engine on its opt-in Kafka client (KAFKA_CLIENT=platformatic), in the same run and on the
 * same ladders as the default one: at-least-once and exactly-once sweeps and the backlog drain
 * (cpu-scaling's default-model point with the default worker count, same pinning). Side by side
 * with kafkajs's figures from this run's rate-sweep, exactly-once and cpu-scaling scenarios.
 */
async function kafkaClient(ctx: BenchContext): Promise<void> {
  const env = { KAFKA_CLIENT: 'platformatic' };
  // The rate-sweep's own ladder, not seeded by it: the same steps (1,000 … 5,300 …) on both clients.
  const alo = await runSweep(ctx, 'kafka-client:platformatic', 'kafka-client-platformatic', 'engine', DEFAULT_CONFIG, ladder(ctx, [1000]), env);
  const eos = await runSweep(ctx, 'kafka-client:platformatic:exactly-once', 'kafka-client-platformatic-exactly-once', 'engine', { ...DEFAULT_CONFIG, guarantee: 'exactly-once' }, ladder(ctx, [1000]), env);
  const workers = DEFAULT_CONFIG.workers ?? 1;
  const points = (ctx.results.cpu_scaling as { points?: ScalingPoint[] } | null)?.points ?? [];
  const kafkajsDrain = points.find((p) => p.model.startsWith('default') && p.workers === workers);
  // --quick (the suite's smoke run): the two sweeps' first step only, no drain.
  const drainPoint = ctx.opts.quick ? undefined : await clientDrain(ctx, env, workers);
  ctx.results.kafka_client = {
    workers,
    platformatic: clientFigures(alo, eos, drainPoint),
    kafkajs: clientFigures(ctx.sweeps.get('rate-sweep'), ctx.sweeps.get('exactly-once'), kafkajsDrain),
  };
}

/** cpu-scaling's default-model point (drain, then the fixed rate) for the engine with `env`, same pinning. */
async function clientDrain(ctx: BenchContext, env: Record<string, string>, workers: number): Promise<ScalingPoint> {
  const layout = cpuLayout();
  const unpin = pinServices(layout);
  let drainPoint: ScalingPoint;
  try {
    ctx.progress.status(`kafka-client: platformatic, ${workers} worker(s): draining ${ctx.opts.backlog} events`);
    drainPoint = await scalingPoint(
      { runtime: ctx.opts.runtime, partitions: ctx.opts.partitions, users: ctx.opts.users, harness: harnessSettings(ctx), backlog: ctx.opts.backlog, fixedRate: REFERENCE_RATE, stepMs: ctx.opts.quick ? 1500 : 10_000, layout, nice: ctx.opts.nice, base: DEFAULT_CONFIG, log: (l) => ctx.progress.line(l) },
      'default (100 trees), KAFKA_CLIENT=platformatic',
      env,
      workers,
    );
  } finally {
    unpin();
  }
  ctx.progress.line(`kafka-client platformatic, ${workers} worker(s): drain ${drainPoint.drain_eps ?? '-'}/s, engine ${drainPoint.drain_cpu?.engine_us_per_event ?? '-'} us/event${drainPoint.error ? `; FAILED: ${drainPoint.error.slice(0, 300)}` : ''}`);
  return drainPoint;
}

/** Issue 7's scale-out: 1, 2 and 3 engine processes sharing one topic through the consumer group. */
async function multiProcess(ctx: BenchContext): Promise<void> {
  ctx.progress.status('multi-process: 1, 2, 3 engine processes in one group');
  const o = ctx.opts.quick
    ? { ...MULTI_PROCESS_DEFAULTS, processes: [1, 2], backlog: 20_000, seconds: 3, runtime: ctx.opts.runtime }
    : { ...MULTI_PROCESS_DEFAULTS, runtime: ctx.opts.runtime };
  const out = await runMultiProcess(o);
  ctx.results.multi_process = out;
  for (const r of out.results) {
    ctx.progress.line(`multi-process ${r.processes}: ${r.max_throughput_eps}/s max, p99 ${r.latency.p99_ms} ms at ${r.latency_rate_eps}/s`);
  }
}

/** In this order: inference needs no services; the default sweep seeds the later ladders. */
export const SCENARIO_ORDER: [ScenarioName, (ctx: BenchContext) => Promise<void>][] = [
  ['inference', inference],
  ['rate-sweep', rateSweep],
  ['exactly-once', exactlyOnce],
  ['baselines', baselines],
  ['cpu-scaling', cpuScaling],
  ['kafka-client', kafkaClient],
  ['micro-batching', microBatching],
  ['multi-process', multiProcess],
];

function pick(p: ReturnType<typeof percentilesOf>) {
  return { p50_ms: p.p50_ms, p90_ms: p.p90_ms, p95_ms: p.p95_ms, p99_ms: p.p99_ms, p999_ms: p.p999_ms, max_ms: p.max_ms };
}

const round2 = (x: number): number => Math.round(x * 100) / 100;
