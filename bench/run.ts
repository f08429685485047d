// npm run bench: end-to-end latency and throughput of scorestream through the real broker and
// Redis, baselines, CPU scaling, inference alone, micro-batching and exactly-once, with a
// results file, a markdown table and SVG charts. See --help.
import { resolve } from 'node:path';
import { buildEngine } from './build.js';
import { USAGE, UsageError, parseOptions, type BenchOptions } from './cli-options.js';
import { writeCharts } from './charts.js';
import { ACHIEVED_MIN, P99_LIMIT_MS } from './load-run.js';
import { Progress } from './progress.js';
import { textReport, writeMarkdown } from './report.js';
import { gitCommit, machineInfo, writeResults, type Results } from './results.js';
import { SCENARIO_ORDER, type BenchContext } from './scenarios.js';
import { ROOT, ensureServices, servicePids } from './services.js';
import { setNice } from './pinning.js';
import { summarize } from './summary.js';
import { calibrateHarness } from './harness/calibrate.js';
import { harnessSettings } from './scenarios.js';
import { loadavg } from 'node:os';

// Ctrl-C / SIGTERM end through process.exit, so exit handlers (restoring the broker's and Redis's
// CPU affinity after the cpu-scaling scenario) run.
process.on('SIGINT', () => process.exit(130));
process.on('SIGTERM', () => process.exit(143));

async function main(): Promise<number> {
  let opts: BenchOptions;
  try {
    opts = parseOptions(process.argv.slice(2));
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`bench: ${err.message}\n\n${USAGE}\n`);
      return 2;
    }
    throw err;
  }
  if (opts.help) {
    process.stdout.write(USAGE + '\n');
    return 0;
  }
  const progress = new Progress();
  const started = Date.now();
  progress.line(`scorestream bench${opts.quick ? ' (quick)' : ''}: ${opts.scenarios.join(', ')}; ${opts.durationS ?? '10,000 events / 3-10'} s per step after ${opts.warmupS} s lead-in; results: ${opts.outDir}/${opts.resultName}.*`);
  await ensureServices((s) => progress.line(s));
  if (opts.build && !buildEngine((l) => progress.line(l))) return 1;

  const results: Results = {
    version: 1,
    generated_at: new Date().toISOString(),
    duration_s: 0,
    quick: opts.quick,
    command: `npm run bench -- ${process.argv.slice(2).join(' ')}`.trim(),
    git_commit: gitCommit(),
    machine: await machineInfo(),
    settings: {
      scenarios: opts.scenarios,
      step_duration_s: opts.durationS ?? 'max(3, min(10, 10000 / rate))',
      repeat: opts.repeat,
      harness: { tick_ms: opts.tickMs, client: opts.harnessClient, fetch_min_bytes: 1, fetch_max_wait_ms: 20 },
      failed_step_repeated: !opts.quick,
      nice: opts.nice,
      warmup_s: opts.warmupS,
      rates: opts.rates,
      users: opts.users,
      user_distribution: 'Zipf s=1.2',
      partitions: opts.partitions,
      runtime: opts.runtime,
      worker_counts: opts.workerCounts,
      budget_min: opts.budgetMin,
      held_when: `p99 <= ${P99_LIMIT_MS} ms and achieved >= ${ACHIEVED_MIN * 100}% of target`,
      latency: 'prediction read back from the output topic minus the event\'s scheduled send time (open loop), µs HdrHistogram',
    },
    harness: null,
    scenarios: [],
    sweeps: [],
    inference: null,
    cpu_scaling: null,
    micro_batching: null,
    summary: {
      max_sustainable_eps: null,
      passthrough_max_eps: null,
      passthrough_platformatic_max_eps: null,
      passthrough_p99_ms_at_1000eps: null,
      passthrough_platformatic_p99_ms_at_1000eps: null,
      naive_max_eps: null,
      p99_ms_at_1000eps: null,
      main_thread_us_per_event: null,
      ratio_vs_passthrough: null,
      ratio_vs_naive: null,
      exactly_once_max_eps: null,
      main_thread_ceiling_eps: null,
      where_time_goes: null,
    },
  };
  const ctx: BenchContext = { opts, progress, results, sweeps: new Map(), deadline: started + opts.budgetMin * 60_000 };
  const failures: { scenario: string; error: string }[] = [];
  // The broker and Redis at the bench's priority for the run (restored at the end and on exit).
  const services = servicePids();
  const restorePriority = opts.nice ? [services.kafka, services.redis].filter((p): p is number => p !== null).map((pid) => setNice(pid, opts.nice)) : [];
  if (opts.nice) progress.line(`priority: nice ${opts.nice} for the engine, baselines, harness, broker and Redis (${restorePriority.every(Boolean) ? 'set' : 'not permitted: unchanged'})`);
  try {
    // What the load harness itself costs at 10,000 events/s, before anything else is measured.
    progress.status('harness calibration: 10,000 events/s, reading its own input back');
    results.harness = await calibrateHarness(10_000, opts.quick ? 3 : 8, opts.runtime, harnessSettings(ctx), opts.nice);
    progress.line(`harness (${results.harness.client}, ${results.harness.tick_ms} ms tick) at 10,000 events/s: ${results.harness.harness_pct ?? '?'}% of one core (generator + reader), ${results.harness.produce_requests_per_s} produce requests/s, broker round trip p50 ${results.harness.p50_ms} ms p99 ${results.harness.p99_ms} ms`);
  } catch (err) {
    failures.push({ scenario: 'harness-calibration', error: (err as Error).message });
    progress.line(`harness calibration FAILED: ${(err as Error).message}`);
  }
  for (const [name, run] of SCENARIO_ORDER) {
    if (!opts.scenarios.includes(name)) continue;
    progress.line(`— ${name}`);
    try {
      await run(ctx);
    } catch (err) {
      const e = err as Error;
      failures.push({ scenario: name, error: e.message });
      progress.line(`${name} FAILED: ${e.stack ?? e.message}`);
    }
  }
  for (const r of restorePriority) r?.();
  results.summary = summarize(ctx, results);
  results.duration_s = Math.round((Date.now() - started) / 100) / 10;
  results.machine.load_avg_at_end = loadavg().map((x) => Math.round(x * 100) / 100);
  if (failures.length) (results as Results & { failures?: unknown }).failures = failures;

  const outDir = resolve(ROOT, opts.outDir);
  const files = writeResults(outDir, results, opts.resultName);
  let charts: string[] = [];
  try {
    charts = await writeCharts(outDir, results, opts.resultName);
  } catch (err) {
    progress.line(`charts failed: ${(err as Error).message}`);
  }
  const md = writeMarkdown(outDir, results, charts, opts.resultName);
  progress.done();
  process.stdout.write(textReport(results));
  progress.line(`wrote ${[files.stamped, files.latest, md, ...charts].map((f) => f.replace(ROOT, '')).join(', ')} in ${results.duration_s} s`);
  if (failures.length) progress.line(`${failures.length} scenario(s) failed: ${failures.map((f) => f.scenario).join(', ')}`);
  return failures.length ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err: Error) => {
    process.stderr.write(`bench: ${err.stack ?? err.message}\n`);
    process.exit(1);
  },
);
