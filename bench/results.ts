import type { ProcessCountResult } from './multi-process.js';
import { execFileSync } from 'node:child_process';
import { cpus, loadavg, release, availableParallelism } from 'node:os';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CpuBreakdown, StepResult, TargetConfig } from './load-run.js';
import type { SweepResult } from './sweep.js';
import { ROOT, kafkaVersion, redisVersion } from './services.js';
import type { HarnessCalibration } from './harness/calibrate.js';
import type { LatencyPercentiles } from './histogram.js';

/**
 * The results file (bench/results/<timestamp>.json and latest.json): every figure of the run,
 * the machine and versions, so runs can be compared across commits and machines.
 */

/** A scenario's latency figures are its histogram's percentiles (mean and count aside: `events` counts). */
export interface ScenarioEntry extends Omit<LatencyPercentiles, 'mean_ms' | 'count'> {
  /** Scenario: rate-sweep, baseline-passthrough, baseline-passthrough-platformatic, baseline-naive, cpu-scaling, micro-batching, exactly-once, inference-single, inference-pool. */
  name: string;
  /** Unique within a file: name, configuration and rate. */
  id: string;
  config: TargetConfig;
  /** Events/s offered (open loop); null for closed-loop inference measurements. */
  target_rate: number | null;
  /** Events (or rows) per second that came out. */
  achieved_rate: number;
  events: number;
  fallbacks: number;
  errors: number;
  /** Whether the step held (p99 ≤ 100 ms and achieved ≥ 95 % of target). */
  held?: boolean;
  /** Which run of a repeated sweep (rate-sweep runs --repeat times); 1 otherwise. */
  run?: number;
  /** 2: the repeat of a step that did not hold the first time. */
  attempt?: number;
  harness_requests_per_s?: number;
  verdict?: string;
  unfinished?: number;
  duplicates?: number;
  dead_letters?: number;
  send_lag_p99_ms?: number;
  mean_batch_rows?: number | null;
  mean_inference_us_per_batch?: number | null;
  cpu?: CpuBreakdown;
  /** Inference entries. */
  batch_size?: number;
  rows_per_request?: number;
  calls_per_s?: number;
  us_per_row?: number;
  /** The latency histogram (µs, HdrHistogram compressed base64) for re-analysis and merging. */
  hdr: string;
}

export interface SweepSummary {
  name: string;
  config: TargetConfig;
  max_sustainable_eps: number;
  failed_at: number | null;
  failure: string | null;
  rates: number[];
}

export interface KafkaClientFigures {
  max_sustainable_eps: number | null;
  p50_ms_at_1000eps: number | null;
  p99_ms_at_1000eps: number | null;
  /** The step run nearest 5,000 events/s (ladder rates are not round). */
  near_5000: { rate: number; p99_ms: number } | null;
  exactly_once_max_eps: number | null;
  exactly_once_p99_ms_at_1000eps: number | null;
  drain_eps: number | null;
  drain_engine_us_per_event: number | null;
  drain_main_us_per_event: number | null;
}

export interface Summary {
  /** The median over the default configuration's runs. */
  max_sustainable_eps: number | null;
  passthrough_max_eps: number | null;
  /** The same pass-through on @platformatic/kafka, and both pass-throughs' p99 at 1,000 events/s. */
  passthrough_platformatic_max_eps: number | null;
  passthrough_p99_ms_at_1000eps: number | null;
  passthrough_platformatic_p99_ms_at_1000eps: number | null;
  naive_max_eps: number | null;
  p99_ms_at_1000eps: number | null;
  main_thread_us_per_event: number | null;
  /** Engine max ÷ baseline max. */
  ratio_vs_passthrough: number | null;
  ratio_vs_naive: number | null;
  exactly_once_max_eps: number | null;
  /** Main-thread ceiling (Amdahl): 1e6 / main_thread_us_per_event. */
  main_thread_ceiling_eps: number | null;
  /** Which thread or resource saturates first at the ceiling, in words. */
  where_time_goes: string | null;
}

export interface Results {
  version: 1;
  generated_at: string;
  duration_s: number;
  quick: boolean;
  command: string;
  git_commit: string;
  machine: {
    cpus: number;
    cpu_model: string;
    node: string;
    kafka: string;
    redis: string;
    os: string;
    load_avg_at_start: number[];
    load_avg_at_end?: number[];
    packages: Record<string, string>;
  };
  settings: Record<string, unknown>;
  scenarios: ScenarioEntry[];
  sweeps: SweepSummary[];
  inference: Record<string, unknown> | null;
  cpu_scaling: Record<string, unknown> | null;
  micro_batching: Record<string, unknown>[] | null;
  /** The load harness's own cost, measured at the start of the run (no engine: it reads its own input). */
  harness: HarnessCalibration | null;
  /** The default configuration's sweep, run --repeat times: each run and the spread. */
  rate_sweep_runs?: {
    runs: { run: number; max_sustainable_eps: number; p99_ms_at_1000eps: number | null }[];
    max_sustainable_eps: { min: number; median: number; max: number; spread_pct: number } | null;
    p99_ms_at_1000eps: { min: number; median: number; max: number; spread_pct: number } | null;
  };
  /** The engine on each Kafka client, same run (the kafka-client scenario; kafkajs figures from rate-sweep, exactly-once, cpu-scaling). */
  kafka_client?: { workers: number; platformatic: KafkaClientFigures; kafkajs: KafkaClientFigures } | null;
  /** 1, 2, 3 engine processes in one consumer group (bench/multi-process.ts). */
  multi_process?: { machine: Record<string, unknown>; results: ProcessCountResult[] } | null;
  summary: Summary;
}

const PACKAGES = ['kafkajs', '@platformatic/kafka', 'ioredis', 'onnxruntime-node', 'piscina', 'hdr-histogram-js', 'prom-client', 'vega', 'vega-lite'];

export async function machineInfo(): Promise<Results['machine']> {
  const packages: Record<string, string> = {};
  for (const p of PACKAGES) {
    try {
      packages[p] = (JSON.parse(readFileSync(join(ROOT, 'node_modules', p, 'package.json'), 'utf8')) as { version: string }).version;
    } catch {
      packages[p] = 'missing';
    }
  }
  return {
    cpus: availableParallelism(),
    cpu_model: cpus()[0]?.model?.trim() ?? 'unknown',
    node: process.version,
    kafka: kafkaVersion(),
    redis: await redisVersion(),
    os: `${process.platform} ${release()}`,
    load_avg_at_start: loadavg().map((x) => Math.round(x * 100) / 100),
    packages,
  };
}

export function gitCommit(): string {
  try {
    const sha = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: ROOT, encoding: 'utf8' }).trim();
    return dirty ? `${sha}+dirty` : sha;
  } catch {
    return 'unknown';
  }
}

export function stepEntry(name: string, config: TargetConfig, r: StepResult, run = 1): ScenarioEntry {
  return {
    name,
    id: `${name}${run > 1 ? `#${run}` : ''}:${configTag(config)}:${r.target_rate}eps${r.attempt > 1 ? ':repeat' : ''}`,
    run,
    attempt: r.attempt,
    harness_requests_per_s: r.harness_requests_per_s,
    config,
    target_rate: r.target_rate,
    achieved_rate: r.achieved_rate,
    p50_ms: r.latency.p50_ms,
    p90_ms: r.latency.p90_ms,
    p95_ms: r.latency.p95_ms,
    p99_ms: r.latency.p99_ms,
    p999_ms: r.latency.p999_ms,
    max_ms: r.latency.max_ms,
    events: r.events,
    fallbacks: r.fallbacks,
    errors: r.errors,
    held: r.held,
    verdict: r.verdict,
    unfinished: r.unfinished,
    duplicates: r.duplicates,
    dead_letters: r.dead_letters,
    send_lag_p99_ms: r.send_lag_p99_ms,
    mean_batch_rows: r.mean_batch_rows,
    mean_inference_us_per_batch: r.mean_inference_us_per_batch,
    cpu: r.cpu,
    hdr: r.histogram,
  };
}

export function sweepSummary(name: string, s: SweepResult): SweepSummary {
  return { name, config: s.spec.config, max_sustainable_eps: s.max_sustainable_eps, failed_at: s.failed_at, failure: s.failure, rates: s.steps.map((x) => x.target_rate) };
}

export function configTag(c: TargetConfig): string {
  return `w${c.workers ?? '-'}/b${c.max_batch ?? '-'}/u${c.max_wait_us ?? '-'}/${c.guarantee === 'exactly-once' ? 'eos' : 'alo'}`;
}

/** Writes <timestamp>.json and <name>.json (latest: full runs only; quick; partial); returns their paths. */
export function writeResults(outDir: string, results: Results, name: string): { stamped: string; latest: string } {
  mkdirSync(outDir, { recursive: true });
  const stamp = results.generated_at.replace(/[:.]/g, '-');
  const text = JSON.stringify(results, null, 2) + '\n';
  const stamped = join(outDir, `${stamp}.json`);
  const latest = join(outDir, `${name}.json`);
  writeFileSync(stamped, text);
  writeFileSync(latest, text);
  return { stamped, latest };
}
