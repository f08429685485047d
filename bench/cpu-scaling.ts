import { CpuSnapshot, round1 } from './cpu-sampler.js';
import { Harness, type HarnessSettings } from './harness/harness.js';
import { LoadRun, cleanup, runNames, targetEnv, type CpuBreakdown, type RunSpec, type TargetConfig } from './load-run.js';
import { pinProcess, setNice, type CpuLayout } from './pinning.js';
import { KAFKA_BROKERS, createTopics, servicePids } from './services.js';
import { TargetProcess, type Runtime } from './target-process.js';

/**
 * CPU scaling, per model and worker count: the rate a backlog drains at (the engine's ceiling,
 * from its own prediction counter, no harness reading meanwhile) and latency at a fixed
 * open-loop rate, each with CPU per thread class. From the drains, the serial fraction (main
 * thread CPU per event) and an Amdahl projection to more cores.
 */

/** CPU per thread class over a window, % of one core. */
export interface ClassCpu {
  main_pct: number | null;
  /** The `workers` busiest non-main engine threads (the lanes). */
  workers_pct: number | null;
  worker_threads_pct: number[];
  other_engine_pct: number | null;
  broker_pct: number | null;
  redis_pct: number | null;
  harness_pct: number | null;
  machine_pct: number | null;
  /** Machine busy time none of the above explains: other users of a shared machine. */
  other_processes_pct: number | null;
  main_us_per_event: number | null;
  workers_us_per_event: number | null;
  engine_us_per_event: number | null;
}

export interface ScalingPoint {
  model: string;
  workers: number;
  drain_eps: number | null;
  drain_events: number;
  drain_cpu: ClassCpu | null;
  fixed_rate_eps: number;
  p50_ms_at_rate: number | null;
  p99_ms_at_rate: number | null;
  rate_cpu: ClassCpu | null;
  error?: string;
}

export interface Amdahl {
  model: string;
  measured_workers: number;
  serial_us_per_event: number;
  parallel_us_per_event: number;
  serial_fraction: number;
  /** 1e6 / serial: no number of cores takes the engine past this. */
  ceiling_eps: number;
  /** PROJECTION: 1e6 / (serial + parallel / cores), the engine alone on `cores` cores. */
  projected: { cores: number; eps: number }[];
}

function classCpu(u: ReturnType<CpuSnapshot['diff']>, workers: number, events: number): ClassCpu {
  const t = u.procs.target ?? null;
  const lanes = t ? t.threads.slice(0, workers).map((x) => x.pct) : [];
  const lanesPct = lanes.reduce((a, b) => a + b, 0);
  const per = (pct: number | null) => (pct !== null && events > 0 ? round1((pct / 100) * (u.wallUs / events)) : null);
  return {
    main_pct: t ? t.mainPct : null,
    workers_pct: t ? round1(lanesPct) : null,
    worker_threads_pct: lanes,
    other_engine_pct: t ? round1(Math.max(0, t.pct - t.mainPct - lanesPct)) : null,
    broker_pct: u.procs.broker?.pct ?? null,
    redis_pct: u.procs.redis?.pct ?? null,
    harness_pct: u.procs.harness?.pct ?? null,
    machine_pct: u.machineBusyPct,
    other_processes_pct: u.machineBusyPct === null ? null : round1(Math.max(0, u.machineBusyPct - (t?.pct ?? 0) - (u.procs.broker?.pct ?? 0) - (u.procs.redis?.pct ?? 0) - (u.procs.harness?.pct ?? 0))),
    main_us_per_event: per(t ? t.mainPct : null),
    workers_us_per_event: per(t ? lanesPct : null),
    engine_us_per_event: per(t ? t.pct : null),
  };
}

function fromBreakdown(c: CpuBreakdown, workers: number): ClassCpu {
  const lanes = c.target_threads_pct.slice(0, workers);
  const lanesPct = lanes.reduce((a, b) => a + b, 0);
  const perEv = c.main_thread_us_per_event !== null && c.target_main_thread_pct ? c.main_thread_us_per_event / c.target_main_thread_pct : null;
  return {
    main_pct: c.target_main_thread_pct,
    workers_pct: round1(lanesPct),
    worker_threads_pct: lanes,
    other_engine_pct: c.target_pct !== null && c.target_main_thread_pct !== null ? round1(Math.max(0, c.target_pct - c.target_main_thread_pct - lanesPct)) : null,
    broker_pct: c.broker_pct,
    redis_pct: c.redis_pct,
    harness_pct: c.harness_pct,
    machine_pct: c.machine_pct,
    other_processes_pct: c.other_pct,
    main_us_per_event: c.main_thread_us_per_event,
    workers_us_per_event: perEv !== null ? round1(perEv * lanesPct) : null,
    engine_us_per_event: c.target_us_per_event,
  };
}

export interface ScalingOptions {
  runtime: Runtime;
  partitions: number;
  users: number;
  harness: HarnessSettings;
  backlog: number;
  fixedRate: number;
  stepMs: number;
  layout: CpuLayout | null;
  nice: number;
  base: TargetConfig;
  log: (s: string) => void;
}

/** A backlog produced before the engine starts, then drained: events/s between 10 % and 90 % done. */
async function drain(o: ScalingOptions, config: TargetConfig, env: Record<string, string>): Promise<{ eps: number; cpu: ClassCpu }> {
  const names = runNames('engine');
  await createTopics(names.topics, o.partitions);
  let target: TargetProcess | null = null;
  try {
    const h = Harness.start({ brokers: KAFKA_BROKERS.split(','), inputTopic: names.topics[0], readTopic: names.topics[1], groupId: names.groups[1], partitions: o.partitions, users: o.users, seed: 11, read: false, ...o.harness }, o.runtime, o.layout?.services ?? null);
    try {
      await h.ready;
      const b = await h.backlog(o.backlog);
      if (b.sendErrors) throw new Error(`backlog: ${b.sendErrors} events not produced`);
    } finally {
      await h.close();
    }
    target = await TargetProcess.start('engine', o.runtime, targetEnv({ kind: 'engine', config, env }, names), o.layout?.engine ?? null);
    await target.waitReady();
    if (o.nice) setNice(target.pid, o.nice, false);
    const pids = { target: target.pid, broker: servicePids().kafka, redis: servicePids().redis };
    const lo = o.backlog * 0.1;
    const hi = o.backlog * 0.9;
    let a: { t: number; n: number; cpu: CpuSnapshot } | null = null;
    let z: { t: number; n: number; cpu: CpuSnapshot } | null = null;
    const deadline = Date.now() + 180_000;
    while (!z && Date.now() < deadline) {
      if (!target.alive) throw new Error(`engine exited during the drain:\n${target.stderrTail()}`);
      const n = (await target.metrics(['scorestream_predictions_total'])).scorestream_predictions_total;
      const t = performance.now();
      if (!a && n >= lo) a = { t, n, cpu: new CpuSnapshot(pids) };
      else if (a && n >= hi) z = { t, n, cpu: new CpuSnapshot(pids) };
      await new Promise((r) => setTimeout(r, 100));
    }
    if (!a || !z) throw new Error('backlog not drained within 180 s');
    const events = z.n - a.n;
    return { eps: Math.round((events / (z.t - a.t)) * 1000), cpu: classCpu(a.cpu.diff(z.cpu), config.workers ?? 1, events) };
  } finally {
    await target?.stop(5000);
    await cleanup(names);
  }
}

async function fixedRate(o: ScalingOptions, config: TargetConfig, env: Record<string, string>): Promise<{ p50: number; p99: number; cpu: ClassCpu }> {
  const spec: RunSpec = { kind: 'engine', config, runtime: o.runtime, partitions: o.partitions, users: o.users, harness: o.harness, env, pin: { target: o.layout?.engine ?? null, harness: o.layout?.services ?? null }, nice: o.nice, warmup: { rate: o.fixedRate, ms: 2000 } };
  const run = await LoadRun.start(spec);
  try {
    const r = await run.step({ rate: o.fixedRate, warmupMs: 1000, durationMs: o.stepMs, drainTimeoutMs: 5000 });
    return { p50: r.latency.p50_ms, p99: r.latency.p99_ms, cpu: fromBreakdown(r.cpu, config.workers ?? 1) };
  } finally {
    await run.stop();
  }
}

export async function scalingPoint(o: ScalingOptions, model: string, env: Record<string, string>, workers: number): Promise<ScalingPoint> {
  const config = { ...o.base, workers };
  const p: ScalingPoint = { model, workers, drain_eps: null, drain_events: o.backlog, drain_cpu: null, fixed_rate_eps: o.fixedRate, p50_ms_at_rate: null, p99_ms_at_rate: null, rate_cpu: null };
  try {
    const d = await drain(o, config, env);
    p.drain_eps = d.eps;
    p.drain_cpu = d.cpu;
    const f = await fixedRate(o, config, env);
    p.p50_ms_at_rate = f.p50;
    p.p99_ms_at_rate = f.p99;
    p.rate_cpu = f.cpu;
  } catch (err) {
    p.error = (err as Error).message;
  }
  return p;
}

/** Pins the broker and Redis to the services' cores for the experiment; returns the undo. */
export function pinServices(layout: CpuLayout | null): () => void {
  if (!layout) return () => {};
  const pids = servicePids();
  const undo = [pids.kafka, pids.redis].filter((p): p is number => p !== null).map((pid) => pinProcess(pid, layout.services));
  return () => undo.forEach((u) => u?.());
}

/** Serial fraction and the Amdahl projection from one drain's CPU per thread class. */
export function amdahlOf(p: ScalingPoint | undefined): Amdahl | null {
  const c = p?.drain_cpu;
  if (!p || !c || c.main_us_per_event === null || c.engine_us_per_event === null || c.main_us_per_event <= 0) return null;
  const serial = c.main_us_per_event;
  const parallel = Math.max(0, c.engine_us_per_event - serial);
  return {
    model: p.model,
    measured_workers: p.workers,
    serial_us_per_event: serial,
    parallel_us_per_event: round1(parallel),
    serial_fraction: Math.round((serial / (serial + parallel)) * 1000) / 1000,
    ceiling_eps: Math.round(1e6 / serial),
    projected: [1, 2, 4, 8, 16].map((cores) => ({ cores, eps: Math.round(1e6 / (serial + parallel / cores)) })),
  };
}
