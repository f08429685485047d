import { MessageChannel } from 'node:worker_threads';
import { nowUs } from './clock.js';
import { CpuSnapshot, round1, type ProcessUse } from './cpu-sampler.js';
import { decodeHistogram, percentilesOf, type LatencyPercentiles } from './histogram.js';
import { LatencyReader } from './latency-reader.js';
import { LoadGenerator } from './load-generator.js';
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
  /** The bench's own generator and reader. */
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
  mean_batch_rows: number | null;
  mean_inference_us_per_batch: number | null;
  cpu: CpuBreakdown;
  histogram: string;
  held: boolean;
  /** Why it did not hold. */
  verdict: string;
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
  private sentTotal = 0;
  dirty = false;

  private constructor(
    readonly spec: RunSpec,
    readonly target: TargetProcess,
    private readonly reader: LatencyReader,
    private readonly generator: LoadGenerator,
    private readonly names: { topics: string[]; groups: string[]; redisPrefix: string },
  ) {}

  static async start(spec: RunSpec): Promise<LoadRun> {
    const id = uniqueName(`bench-${spec.kind}`);
    const input = `${id}-in`;
    const output = `${id}-out`;
    const dlq = [`${id}-dlq-validation`, `${id}-dlq-processing`, `${id}-dlq-late`];
    const topics = [input, output, ...(spec.kind === 'engine' ? dlq : [])];
    const groups = [`${id}-target`, `${id}-reader`];
    const redisPrefix = `bench:${id}:`;
    await createTopics(topics, spec.partitions);
    const env: Record<string, string> = {
      KAFKA_BROKERS,
      REDIS_URL,
      INPUT_TOPIC: input,
      OUTPUT_TOPIC: output,
      KAFKA_GROUP_ID: groups[0],
      REDIS_KEY_PREFIX: redisPrefix,
      FEATURE_TTL_SECONDS: '900',
      // A run that ends on an overloaded step must not wait long for its backlog.
      SHUTDOWN_TIMEOUT_MS: '3000',
    };
    if (spec.kind === 'engine') {
      Object.assign(env, {
        DLQ_VALIDATION_TOPIC: dlq[0],
        DLQ_PROCESSING_TOPIC: dlq[1],
        DLQ_LATE_TOPIC: dlq[2],
        GUARANTEE: spec.config.guarantee,
        TRANSACTIONAL_ID_PREFIX: id,
      });
      if (spec.config.workers !== null) env.WORKERS = String(spec.config.workers);
      if (spec.config.max_batch !== null) env.MAX_BATCH = String(spec.config.max_batch);
      if (spec.config.max_wait_us !== null) env.MAX_WAIT_US = String(spec.config.max_wait_us);
    }
    const names = { topics, groups, redisPrefix };
    let target: TargetProcess | null = null;
    let reader: LatencyReader | null = null;
    let generator: LoadGenerator | null = null;
    try {
      target = await TargetProcess.start(spec.kind, spec.runtime, env);
      const { port1, port2 } = new MessageChannel();
      reader = new LatencyReader({ brokers: KAFKA_BROKERS.split(','), topic: output, groupId: groups[1], feedPort: port2 });
      generator = new LoadGenerator({ brokers: KAFKA_BROKERS.split(','), topic: input, partitions: spec.partitions, users: spec.users, seed: 42, readerPort: port1 });
      await Promise.all([target.waitReady(), reader.ready, generator.ready]);
      return new LoadRun(spec, target, reader, generator, names);
    } catch (err) {
      await Promise.allSettled([generator?.close(), reader?.close(), target?.stop(3000)]);
      await cleanup(names);
      throw err;
    }
  }

  /** Runs one step at a fixed rate; `onTick` gets progress (sent so far is implied by time). */
  async step(plan: StepPlan, onTick?: (s: { read: number; completed: number; phase: string }) => void): Promise<StepResult> {
    const step = ++this.stepNo;
    const pids = { target: this.target.pid, broker: servicePids().kafka, redis: servicePids().redis, bench: process.pid };
    const m0 = await this.target.metrics(ENGINE_METRICS);
    const dup0 = (await this.reader.stats()).duplicates;
    let cpu0: CpuSnapshot | null = null;
    let cpu1: CpuSnapshot | null = null;
    const startedAt = Date.now();
    // CPU is read at the edges of the measured window (the generator starts ~20 ms after the request).
    // Events the target processed in the window: the engine's own counter (its outputs may become
    // visible later, e.g. at an exactly-once commit); baselines: outputs read in the window.
    let done0: Promise<Record<string, number>> | null = null;
    let done1: Promise<Record<string, number>> | null = null;
    const tStart = setTimeout(() => {
      cpu0 = new CpuSnapshot(pids);
      done0 = this.target.metrics(PROCESSED);
    }, plan.warmupMs + 20);
    const tEnd = setTimeout(() => {
      cpu1 = new CpuSnapshot(pids);
      done1 = this.target.metrics(PROCESSED);
    }, plan.warmupMs + plan.durationMs + 20);
    let phase = 'warm-up';
    const ticker = setInterval(() => {
      const el = Date.now() - startedAt;
      phase = el < plan.warmupMs ? 'warm-up' : el < plan.warmupMs + plan.durationMs ? 'measuring' : 'draining';
      void this.reader.stats().then((s) => onTick?.({ read: s.read, completed: s.completed[step] ?? 0, phase }));
    }, 250);
    try {
      const sent = await this.generator.run({ step, rate: plan.rate, warmupMs: plan.warmupMs, durationMs: plan.durationMs });
      if (this.generator.error) throw this.generator.error;
      this.sentTotal += sent.sent;
      const drainUntil = Date.now() + plan.drainTimeoutMs;
      let drained = false;
      while (Date.now() < drainUntil) {
        if (!this.target.alive) throw new RunError(`${this.spec.kind} exited during the step:\n${this.target.stderrTail()}`);
        const s = await this.reader.stats();
        if (s.mapped >= this.sentTotal - sent.sendErrors && (s.completed[step] ?? 0) >= sent.measured) {
          drained = true;
          break;
        }
        await sleep(25);
      }
      const cutoffUs = nowUs();
      clearTimeout(tStart);
      clearTimeout(tEnd);
      cpu0 ??= new CpuSnapshot(pids);
      cpu1 ??= new CpuSnapshot(pids);
      const lat = await this.reader.finish(step, cutoffUs);
      const m1 = await this.target.metrics(ENGINE_METRICS);
      const dup1 = (await this.reader.stats()).duplicates;
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
        mean_batch_rows: d('scorestream_batch_rows_count') > 0 ? round1(d('scorestream_batch_rows_sum') / d('scorestream_batch_rows_count')) : null,
        mean_inference_us_per_batch: d('scorestream_inference_seconds_count') > 0 ? round1((d('scorestream_inference_seconds_sum') / d('scorestream_inference_seconds_count')) * 1e6) : null,
        cpu,
        histogram: lat.histogram,
        held: reasons.length === 0,
        verdict: reasons.length ? reasons.join('; ') : 'held',
      };
    } finally {
      clearInterval(ticker);
      clearTimeout(tStart);
      clearTimeout(tEnd);
    }
  }

  async stop(): Promise<void> {
    await Promise.allSettled([this.generator.close(), this.reader.close(), this.target.stop()]);
    await cleanup(this.names);
  }
}

async function cleanup(names: { topics: string[]; groups: string[]; redisPrefix: string }): Promise<void> {
  await Promise.allSettled([deleteTopics(names.topics), deleteGroups(names.groups), deleteRedisPrefix(names.redisPrefix)]);
}

function cpuBreakdown(u: ReturnType<CpuSnapshot['diff']>, events: number, lanes: number): CpuBreakdown {
  const t: ProcessUse | null = u.procs.target ?? null;
  const pct = (p: ProcessUse | null | undefined) => (p ? p.pct : null);
  const known = [t, u.procs.broker, u.procs.redis, u.procs.bench].reduce((a, p) => a + (p?.pct ?? 0), 0);
  return {
    target_pct: pct(t),
    target_main_thread_pct: t ? t.mainPct : null,
    target_threads_pct: t ? t.threads.slice(0, Math.max(lanes, 1) + 2).map((x) => x.pct) : [],
    main_thread_us_per_event: t && events > 0 ? round1(t.mainCpuUs / events) : null,
    target_us_per_event: t && events > 0 ? round1(t.cpuUs / events) : null,
    broker_pct: pct(u.procs.broker),
    redis_pct: pct(u.procs.redis),
    bench_pct: pct(u.procs.bench),
    machine_pct: u.machineBusyPct,
    other_pct: u.machineBusyPct === null ? null : round1(Math.max(0, u.machineBusyPct - known)),
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
