import type { Results, Summary } from './results.js';
import { DEFAULT_CONFIG, bestStep, failedStep, stepAt, type BenchContext } from './scenarios.js';
import type { SweepResult } from './sweep.js';

/**
 * The headline figures, the Amdahl ceiling the main thread implies, and where the time goes at
 * the ceiling (which thread or resource saturates first).
 */

/** The default configuration's sweep: rate-sweep, or the matching cpu-scaling run. */
function defaultSweep(ctx: BenchContext): SweepResult | undefined {
  return ctx.sweeps.get('rate-sweep') ?? ctx.sweeps.get(`cpu-scaling:w${DEFAULT_CONFIG.workers}`);
}

/** Which thread or resource ran out first, from the CPU breakdown at and just past the ceiling. */
export function whereTimeGoes(s: SweepResult | undefined, cpus: number): string | null {
  const best = bestStep(s);
  const fail = failedStep(s);
  const at = fail ?? best;
  if (!at) return null;
  const c = at.cpu;
  if (c.target_pct === null) return 'no CPU figures (/proc not readable)';
  const lanes = c.target_threads_pct.slice(0, DEFAULT_CONFIG.workers ?? 1);
  const parts = [
    `engine main thread ${c.target_main_thread_pct}%`,
    `busiest other engine threads ${lanes.map((x) => `${x}%`).join('/')}`,
    `broker ${c.broker_pct ?? '?'}%`,
    `Redis ${c.redis_pct ?? '?'}%`,
    `load harness ${c.harness_pct ?? '?'}%`,
    `bench coordinator ${c.bench_pct ?? '?'}%`,
    `other processes ${c.other_pct ?? '?'}%`,
  ];
  const capacity = cpus * 100;
  const threads: [string, number][] = [
    ['the engine main thread', c.target_main_thread_pct ?? 0],
    ['an engine worker thread', lanes[0] ?? 0],
  ];
  const hot = threads.filter(([, p]) => p >= 85).sort((a, b) => b[1] - a[1])[0];
  const machineFull = c.machine_pct !== null && c.machine_pct >= capacity * 0.9;
  let verdict: string;
  if (hot) verdict = `${hot[0]} saturates first (${hot[1]}% of a core)`;
  else if (machineFull) {
    const engineMainShare = c.target_main_thread_pct ?? 0;
    verdict = `the machine's ${cpus} cores saturate first (${c.machine_pct}% of ${capacity}%) with no single thread at 100%; of the engine's threads the ${engineMainShare >= (lanes[0] ?? 0) ? 'main thread' : 'busiest worker'} is the busiest`;
  } else verdict = 'no thread and not the machine is saturated: the limit is latency (waiting: batching timers, broker round trips), not CPU';
  const where = fail ? `at ${fail.target_rate}/s (first rate that did not hold: ${fail.verdict})` : `at ${at.target_rate}/s (highest rate run)`;
  return `${where}: ${verdict}. CPU over the measured window, % of one core: ${parts.join(', ')}; machine ${c.machine_pct ?? '?'}% of ${capacity}%.`;
}

export function summarize(ctx: BenchContext, results: Results): Summary {
  const def = defaultSweep(ctx);
  const pass = ctx.sweeps.get('baseline-passthrough');
  const passPlatformatic = ctx.sweeps.get('baseline-passthrough-platformatic');
  const naive = ctx.sweeps.get('baseline-naive');
  const eos = ctx.sweeps.get('exactly-once');
  const best = bestStep(def);
  // No step held (an overloaded machine, a quick run): the lowest rate run still tells the cost.
  const costStep = best ?? def?.steps[0];
  const mainUs = costStep?.cpu.main_thread_us_per_event ?? null;
  // The median over the repeated runs of the default sweep (the first run alone if not repeated).
  const max = results.rate_sweep_runs?.max_sustainable_eps?.median ?? (def ? def.max_sustainable_eps : null);
  const ratio = (x: number | null | undefined) => (max && x ? Math.round((max / x) * 100) / 100 : null);
  return {
    max_sustainable_eps: max,
    passthrough_max_eps: pass ? pass.max_sustainable_eps : null,
    passthrough_platformatic_max_eps: passPlatformatic ? passPlatformatic.max_sustainable_eps : null,
    passthrough_p99_ms_at_1000eps: stepAt(pass)?.latency.p99_ms ?? null,
    passthrough_platformatic_p99_ms_at_1000eps: stepAt(passPlatformatic)?.latency.p99_ms ?? null,
    naive_max_eps: naive ? naive.max_sustainable_eps : null,
    p99_ms_at_1000eps: results.rate_sweep_runs?.p99_ms_at_1000eps?.median ?? stepAt(def)?.latency.p99_ms ?? null,
    main_thread_us_per_event: mainUs,
    ratio_vs_passthrough: ratio(pass?.max_sustainable_eps),
    ratio_vs_naive: ratio(naive?.max_sustainable_eps),
    exactly_once_max_eps: eos ? eos.max_sustainable_eps : null,
    main_thread_ceiling_eps: mainUs ? Math.round(1e6 / mainUs) : null,
    where_time_goes: whereTimeGoes(def, results.machine.cpus),
  };
}
