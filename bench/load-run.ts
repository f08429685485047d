import { CpuSnapshot, round1, type ProcessUse } from './cpu-sampler.js';
import { Harness, type HarnessSettings } from './harness/harness.js';
import { setNice } from './pinning.js';
import { decodeHistogram, percentilesOf, type LatencyPercentiles } from './histogram.js';
import { KAFKA_BROKERS, REDIS_URL, createTopics, deleteGroups, deleteRedisPrefix, deleteTopics, servicePids, uniqueName } from './services.js';
import { TargetProcess, type Runtime, type TargetKind } from './target-process.js';

/** The configuration a result was measured with (the JSON shape). */
export interface TargetConfig {
  workers: number | null;
  max_batch: number | null;
  max_wait_us: number | null;
  guarantee: 'at-least-once' | 'exactly-once';
}

export interface RunSpec {
  kind: TargetKind;
  config: TargetConfig;
  runtime: Runtime;
  partitions: number;
  users: number;
  harness: HarnessSettings;
  /** Extra environment of the target (e.g. MODEL_PATH of the heavy model). */
  env?: Record<string, string>;
  /** taskset -c lists: the target, and the harness (null: not pinned). */
  pin?: { target: string | null; harness: string | null };
  /** Nice value for the target and the harness (null or 0: unchanged). */
  nice?: number | null;
  /** Unmeasured step run once after the process is ready: JIT, connections, group joins. */
  warmup?: { rate: number; ms: number };
}

export interface StepPlan {
  rate: number;
  warmupMs: number;
  durationMs: number;
  /** Longest wait after the last send for the window's outputs. */
  drainTimeoutMs: number;
}

export interface CpuBreakdown {
  /** Percent of one core over the measured window (200 = both cores of a 2-core machine). */
  target_pct: number | null;
  target_main_thread_pct: number | null;
  /** The busiest non-main threads of the target (for the engine: its lane workers first). */
  target_threads_pct: number[];
  main_thread_us_per_event: number | null;
  target_us_per_event: number | null;
  broker_pct: number | null;
  redis_pct: number | null;
  /** The load harness: generator + reader (its own process). */
  harness_pct: number | null;
  /** The bench's coordinating process (polls, /proc reads). */
  bench_pct: number | null;
  machine_pct: number | null;
  /** Machine busy time not explained by the above: other users of the shared machine. */
  other_pct: number | null;
}

export interface StepResult {
  target_rate: number;
  achieved_rate: number;
  latency: LatencyPercentiles;
  /** Events scheduled in the measured window. */
  events: number;
  completed: number;
  unfinished: number;
  duplicates: number;
  fallbacks: number;
  dead_letters: number;
  output_send_failures: number;
  generator_send_errors: number;
  errors: number;
  send_lag_p99_ms: number;
  /** Produce requests the harness made per second in the step. */
  harness_requests_per_s: number;
  mean_batch_rows: number | null;
  mean_inference_us_per_batch: number | null;
  cpu: CpuBreakdown;
  histogram: string;
  held: boolean;
  /** Why it did not hold. */
  verdict: string;
  /** 2: the repeat of a step that did not hold the first time (sweeps repeat a failed step once). */
  attempt: number;
}

/** A step holds when p99 ≤ 100 ms and at least 95 % of the target rate came out. */
export const P99_LIMIT_MS = 100;
export const ACHIEVED_MIN = 0.95;

const ENGINE_METRICS = [
  'scorestream_dlq_records_total',
  'scorestream_output_send_failures_total',
  'scorestream_batch_rows_sum',
  'scorestream_batch_rows_count',
  'scorestream_inference_seconds_sum',
  'scorestream_inference_seconds_count',
] as const;

const PROCESSED = ['scorestream_predictions_total'] as const;

export class RunError extends Error {
  override name = 'RunError';
}

/**
 * One measured run: fresh topics, group and Redis prefix, the target process, the latency
 * reader and the open-loop generator. Steps run back to back on the same process (warm, like
 * a service in production); a step that leaves a backlog makes the run dirty.
 */
export class LoadRun {
  private stepNo = 0;
  dirty = false;

  private constructor(
    readonly spec: RunSpec,
    readonly target: TargetProcess,
    private readonly harness: Harness,
    private readonly names: RunNames,
  ) {}

  static async start(spec: RunSpec): Promise<LoadRun> {
    const names = runNames(spec.kind);
    await createTopics(names.topics, spec.partitions);
    const env = targetEnv(spec, names);
    const [input, output] = names.topics;
    const groups = names.groups;
    let target: TargetProcess | null = null;
    let harness: Harness | null = null;
    try {
      target = await TargetProcess.start(spec.kind, spec.runtime, env, spec.pin?.target ?? null);
      harness = Harness.start({ brokers: KAFKA_BROKERS.split(','), inputTopic: input, readTopic: output, groupId: groups[1], partitions: spec.partitions, users: spec.users, seed: 42, read: true, ...spec.harness }, spec.runtime, spec.pin?.harness ?? null);
      await Promise.all([target.waitReady(), harness.ready]);
      if (spec.nice) for (const pid of [target.pid, harness.pid]) setNice(pid, spec.nice, false);
      const run = new LoadRun(spec, target, harness, names);
      if (spec.warmup) await run.warmupStep(spec.warmup.rate, spec.warmup.ms);
      return run;
    } catch (err) {
      await Promise.allSettled([harness?.close(), target?.stop(3000)]);
      await cleanup(names);
      throw err;
    }
  }

  /** An unmeasured step; waits (bounded) for its outputs so none leaks into the first measured step. */
  private async warmupStep(rate: number, ms: number): Promise<void> {
    const step = ++this.stepNo;
    const sent = await this.harness.step(step, rate, 0, ms);
    const until = Date.now() + 10_000;
    while (Date.now() < until && ((await this.harness.stats()).completed[step] ?? 0) < sent.measured) await sleep(50);
    await this.harness.finish(step);
  }

  /** Runs one step at a fixed rate; `onTick` gets progress (sent so far is implied by time). */
  async step(plan: StepPlan, onTick?: (s: { read: number; completed: number; phase: string }) => void): Promise<StepResult> {
    const step = ++this.stepNo;
    const pids = { target: this.target.pid, broker: servicePids().kafka, redis: servicePids().redis, harness: this.harness.pid, bench: process.pid };
    const m0 = await this.target.metrics(ENGINE_METRICS);
    const dup0 = (await this.harness.stats()).duplicates;
    let cpu0: CpuSnapshot | null = null;
    let cpu1: CpuSnapshot | null = null;
    const startedAt = Date.now();
    // CPU is read at the edges of the measured window, which the harness announces.
    // Events the target processed in the window: the engine's own counter (its outputs may become
    // visible later, e.g. at an exactly-once commit); baselines: outputs read in the window.
    let done0: Promise<Record<string, number>> | null = null;
    let done1: Promise<Record<string, number>> | null = null;
    this.harness.onEdge = (st, edge) => {
      if (st !== step) return;
      if (edge === 'start') {
        cpu0 = new CpuSnapshot(pids);
        done0 = this.target.metrics(PROCESSED);
      } else {
        cpu1 = new CpuSnapshot(pids);
        done1 = this.target.metrics(PROCESSED);
      }
    };
    let phase = 'warm-up';
    // Progress only when someone shows it: every poll is a wake-up of the harness too.
    const ticker = onTick
      ? setInterval(() => {
          const el = Date.now() - startedAt;
          phase = el < plan.warmupMs ? 'warm-up' : el < plan.warmupMs + plan.durationMs ? 'measuring' : 'draining';
          void this.harness.stats().then((s) => onTick({ read: s.read, completed: s.completed[step] ?? 0, phase }), () => {});
        }, 1000)
      : null;
    try {
      const sent = await this.harness.step(step, plan.rate, plan.warmupMs, plan.durationMs);
      if (this.harness.error) throw this.harness.error;
      const drainUntil = Date.now() + plan.drainTimeoutMs;
      let drained = false;
      while (Date.now() < drainUntil) {
        if (!this.target.alive) throw new RunError(`${this.spec.kind} exited during the step:\n${this.target.stderrTail()}`);
        const s = await this.harness.stats();
        if ((s.completed[step] ?? 0) >= sent.measured) {
          drained = true;
          break;
        }
        await sleep(50);
      }
      this.harness.onEdge = null;
      cpu0 ??= new CpuSnapshot(pids);
      cpu1 ??= new CpuSnapshot(pids);
      const lat = await this.harness.finish(step);
      const m1 = await this.target.metrics(ENGINE_METRICS);
      const dup1 = (await this.harness.stats()).duplicates;
      if (!drained) this.dirty = true;
      const d = (k: (typeof ENGINE_METRICS)[number]) => m1[k] - m0[k];
      const hist = decodeHistogram(lat.histogram);
      const latency = percentilesOf(hist);
      const achieved = Math.round(lat.readInWindow / (plan.durationMs / 1000));
      const processed = this.spec.kind === 'engine' && done0 && done1 ? (await done1)[PROCESSED[0]] - (await done0)[PROCESSED[0]] : lat.readInWindow;
      const cpu = cpuBreakdown((cpu0 as CpuSnapshot).diff(cpu1 as CpuSnapshot), processed, this.spec.config.workers ?? 0);
      const deadLetters = Math.round(d('scorestream_dlq_records_total'));
      const sendFailures = Math.round(d('scorestream_output_send_failures_total'));
      const lagP99 = percentilesOf(decodeHistogram(sent.sendLagHistogram)).p99_ms;
      const reasons: string[] = [];
      if (!(latency.p99_ms <= P99_LIMIT_MS)) reasons.push(`p99 ${latency.p99_ms} ms > ${P99_LIMIT_MS} ms`);
      if (achieved < ACHIEVED_MIN * plan.rate) reasons.push(`achieved ${achieved}/s < ${ACHIEVED_MIN * 100}% of ${plan.rate}/s`);
      return {
        target_rate: plan.rate,
        achieved_rate: achieved,
        latency,
        events: sent.measured,
        completed: lat.completed,
        unfinished: lat.unfinished,
        duplicates: dup1 - dup0,
        fallbacks: lat.fallbacks,
        dead_letters: deadLetters,
        output_send_failures: sendFailures,
        generator_send_errors: sent.sendErrors,
        errors: deadLetters + sendFailures + lat.unfinished,
        send_lag_p99_ms: lagP99,
        harness_requests_per_s: Math.round(sent.requests / ((plan.warmupMs + plan.durationMs) / 1000)),
        mean_batch_rows: d('scorestream_batch_rows_count') > 0 ? round1(d('scorestream_batch_rows_sum') / d('scorestream_batch_rows_count')) : null,
        mean_inference_us_per_batch: d('scorestream_inference_seconds_count') > 0 ? round1((d('scorestream_inference_seconds_sum') / d('scorestream_inference_seconds_count')) * 1e6) : null,
        cpu,
        histogram: lat.histogram,
        held: reasons.length === 0,
        verdict: reasons.length ? reasons.join('; ') : 'held',
        attempt: 1,
      };
    } finally {
      if (ticker) clearInterval(ticker);
      this.harness.onEdge = null;
    }
  }

  async stop(): Promise<void> {
    // A target left with a backlog (an overloaded step) must not hold the bench for long.
    await Promise.allSettled([this.harness.close(), this.target.stop(5000)]);
    await cleanup(this.names);
  }
}

export interface RunNames {
  id: string;
  /** input, output, then the engine's dead-letter topics. */
  topics: string[];
  /** The target's group, the reader's. */
  groups: string[];
  redisPrefix: string;
}

/** Fresh topic, group and Redis key names for one process under test. */
export function runNames(kind: TargetKind): RunNames {
  const id = uniqueName(`bench-${kind}`);
  const dlq = [`${id}-dlq-validation`, `${id}-dlq-processing`, `${id}-dlq-late`];
  return { id, topics: [`${id}-in`, `${id}-out`, ...(kind === 'engine' ? dlq : [])], groups: [`${id}-target`, `${id}-reader`], redisPrefix: `bench:${id}:` };
}

/** The target's environment: its topics, group, Redis prefix and the configuration under test. */
export function targetEnv(spec: Pick<RunSpec, 'kind' | 'config' | 'env'>, names: RunNames): Record<string, string> {
  const [input, output, ...dlq] = names.topics;
  const env: Record<string, string> = {
    KAFKA_BROKERS,
    REDIS_URL,
    INPUT_TOPIC: input,
    OUTPUT_TOPIC: output,
    KAFKA_GROUP_ID: names.groups[0],
    REDIS_KEY_PREFIX: names.redisPrefix,
    FEATURE_TTL_SECONDS: '900',
    // A run that ends on an overloaded step must not wait long for its backlog.
    SHUTDOWN_TIMEOUT_MS: '3000',
  };
  if (spec.env) Object.assign(env, spec.env);
  if (spec.kind === 'engine') {
    Object.assign(env, {
      DLQ_VALIDATION_TOPIC: dlq[0],
      DLQ_PROCESSING_TOPIC: dlq[1],
      DLQ_LATE_TOPIC: dlq[2],
      GUARANTEE: spec.config.guarantee,
      TRANSACTIONAL_ID_PREFIX: names.id,
    });
    if (spec.config.workers !== null) env.WORKERS = String(spec.config.workers);
    if (spec.config.max_batch !== null) env.MAX_BATCH = String(spec.config.max_batch);
    if (spec.config.max_wait_us !== null) env.MAX_WAIT_US = String(spec.config.max_wait_us);
  }
  return env;
}

export async function cleanup(names: Pick<RunNames, 'topics' | 'groups' | 'redisPrefix'>): Promise<void> {
  await Promise.allSettled([deleteTopics(names.topics), deleteGroups(names.groups), deleteRedisPrefix(names.redisPrefix)]);
}

function cpuBreakdown(u: ReturnType<CpuSnapshot['diff']>, events: number, lanes: number): CpuBreakdown {
  const t: ProcessUse | null = u.procs.target ?? null;
  const pct = (p: ProcessUse | null | undefined) => (p ? p.pct : null);
  const known = [t, u.procs.broker, u.procs.redis, u.procs.harness, u.procs.bench].reduce((a, p) => a + (p?.pct ?? 0), 0);
  return {
    target_pct: pct(t),
    target_main_thread_pct: t ? t.mainPct : null,
    target_threads_pct: t ? t.threads.slice(0, Math.max(lanes, 1) + 2).map((x) => x.pct) : [],
    main_thread_us_per_event: t && events > 0 ? round1(t.mainCpuUs / events) : null,
    target_us_per_event: t && events > 0 ? round1(t.cpuUs / events) : null,
    broker_pct: pct(u.procs.broker),
    redis_pct: pct(u.procs.redis),
    harness_pct: pct(u.procs.harness),
    bench_pct: pct(u.procs.bench),
    machine_pct: u.machineBusyPct,
    other_pct: u.machineBusyPct === null ? null : round1(Math.max(0, u.machineBusyPct - known)),
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
