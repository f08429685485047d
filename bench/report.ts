import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CHART_FILES, chartFile } from './charts.js';
import type { Amdahl, ScalingPoint } from './cpu-scaling.js';
import { configTag, type Results, type ScenarioEntry } from './results.js';

/** The readable side of a results file: an aligned table for the terminal, markdown for the README. */

type Table = { head: string[]; rows: string[][] };

const n = (x: number | null | undefined, digits = 1): string => (x === null || x === undefined || !Number.isFinite(x) ? '-' : x >= 100 ? Math.round(x).toLocaleString('en-US') : x.toFixed(x < 1 ? 2 : digits));
const int = (x: number | null | undefined): string => (x === null || x === undefined || !Number.isFinite(x) ? '-' : Math.round(x).toLocaleString('en-US'));

function stepTable(entries: ScenarioEntry[]): Table {
  return {
    head: ['scenario', 'config', 'target/s', 'achieved/s', 'p50 ms', 'p90', 'p95', 'p99', 'p99.9', 'max', 'events', 'fallb.', 'errors', 'cpu %', 'main µs/ev', 'harness %', 'held'],
    rows: entries.map((e) => [
      `${e.name}${(e.run ?? 1) > 1 ? ` #${e.run}` : ''}${(e.attempt ?? 1) > 1 ? ' (repeat)' : ''}`,
      configTag(e.config),
      int(e.target_rate),
      int(e.achieved_rate),
      n(e.p50_ms, 2),
      n(e.p90_ms, 2),
      n(e.p95_ms, 2),
      n(e.p99_ms, 2),
      n(e.p999_ms, 2),
      n(e.max_ms, 2),
      int(e.events),
      int(e.fallbacks),
      int(e.errors),
      n(e.cpu?.target_pct),
      n(e.cpu?.main_thread_us_per_event),
      n(e.cpu?.harness_pct),
      e.held ? 'yes' : 'NO',
    ]),
  };
}

function inferenceTable(entries: ScenarioEntry[]): Table {
  return {
    head: ['inference', 'rows/call', 'rows/s', 'calls/s', 'p50 ms', 'p99 ms', 'p99.9', 'µs/row'],
    rows: entries.map((e) => [
      e.name === 'inference-single' ? 'one session, one thread' : `lane pool, ${e.config.workers} workers`,
      int(e.batch_size ?? e.rows_per_request),
      int(e.achieved_rate),
      int(e.calls_per_s ?? (e.rows_per_request ? e.achieved_rate / e.rows_per_request : null)),
      n(e.p50_ms, 3),
      n(e.p99_ms, 3),
      n(e.p999_ms, 3),
      e.us_per_row !== undefined ? n(e.us_per_row, 2) : '-',
    ]),
  };
}

function scalingTable(r: Results): Table | null {
  const sc = r.cpu_scaling as { points?: ScalingPoint[] } | null;
  if (!sc?.points?.length) return null;
  return {
    head: ['model', 'workers', 'drain/s', 'p50 ms @1000/s', 'p99 ms @1000/s', 'main %', 'workers %', 'other engine %', 'broker %', 'Redis %', 'other processes %', 'machine %', 'main µs/ev', 'workers µs/ev', 'engine µs/ev'],
    rows: sc.points.map((p) => [
      p.model,
      String(p.workers),
      p.error ? `failed: ${p.error.slice(0, 60)}` : int(p.drain_eps),
      n(p.p50_ms_at_rate, 2),
      n(p.p99_ms_at_rate, 2),
      n(p.drain_cpu?.main_pct),
      p.drain_cpu ? p.drain_cpu.worker_threads_pct.map((x) => n(x)).join(' + ') : '-',
      n(p.drain_cpu?.other_engine_pct),
      n(p.drain_cpu?.broker_pct),
      n(p.drain_cpu?.redis_pct),
      n(p.drain_cpu?.other_processes_pct),
      n(p.drain_cpu?.machine_pct),
      n(p.drain_cpu?.main_us_per_event),
      n(p.drain_cpu?.workers_us_per_event),
      n(p.drain_cpu?.engine_us_per_event),
    ]),
  };
}

function amdahlLines(r: Results): string[] {
  const sc = r.cpu_scaling as { amdahl?: Amdahl[]; layout?: string } | null;
  const out: string[] = [];
  if (sc?.layout) out.push(`layout (taskset): ${sc.layout}`);
  for (const a of sc?.amdahl ?? []) {
    out.push(`${a.model}: serial (main thread) ${a.serial_us_per_event} µs/event, parallel ${a.parallel_us_per_event} µs/event → serial fraction ${(a.serial_fraction * 100).toFixed(1)}%; PROJECTION (Amdahl, engine alone on N cores): ${a.projected.map((p) => `${p.cores}: ${int(p.eps)}/s`).join(', ')}; ceiling ${int(a.ceiling_eps)}/s`);
  }
  return out;
}

function harnessLine(r: Results): string {
  const h = r.harness;
  if (!h) return 'load harness: not calibrated';
  return `load harness (generator + reader, own process, ${h.client}, ${h.tick_ms} ms tick): ${n(h.harness_pct)}% of one core at ${int(h.rate)} events/s (${h.produce_requests_per_s} produce requests/s; broker round trip alone p50 ${n(h.p50_ms, 2)} ms, p99 ${n(h.p99_ms, 2)} ms)`;
}

function summaryLines(r: Results): string[] {
  const s = r.summary;
  const runs = r.rate_sweep_runs;
  const lines = [
    harnessLine(r),
    `max sustainable (p99 ≤ 100 ms, ≥ 95% of target): ${int(s.max_sustainable_eps)} events/s${runs?.max_sustainable_eps && runs.runs.length > 1 ? ` (median of ${runs.runs.length} runs: ${runs.runs.map((x) => int(x.max_sustainable_eps)).join(' / ')}; min ${int(runs.max_sustainable_eps.min)}, max ${int(runs.max_sustainable_eps.max)}, spread ±${n(runs.max_sustainable_eps.spread_pct)}% of the median)` : ''}`,
    `  kafkajs pass-through: ${int(s.passthrough_max_eps)} events/s (engine = ${n(s.ratio_vs_passthrough, 2)}×), p99 at 1,000/s ${n(s.passthrough_p99_ms_at_1000eps, 2)} ms`,
    `  @platformatic/kafka pass-through: ${int(s.passthrough_platformatic_max_eps)} events/s, p99 at 1,000/s ${n(s.passthrough_platformatic_p99_ms_at_1000eps, 2)} ms`,
    `  naive per-message consumer: ${int(s.naive_max_eps)} events/s (engine = ${n(s.ratio_vs_naive, 2)}×)`,
    `  exactly-once: ${int(s.exactly_once_max_eps)} events/s`,
    `p99 at 1,000 events/s: ${n(s.p99_ms_at_1000eps, 2)} ms${runs?.p99_ms_at_1000eps && runs.runs.length > 1 ? ` (median; runs ${runs.runs.map((x) => n(x.p99_ms_at_1000eps, 2)).join(' / ')} ms)` : ''}`,
    `main thread: ${n(s.main_thread_us_per_event)} µs CPU per event → Amdahl ceiling ${int(s.main_thread_ceiling_eps)} events/s whatever the core count`,
  ];
  if (s.where_time_goes) lines.push(`where the time goes ${s.where_time_goes}`);
  const inf = r.inference as { single_row_calls_per_s?: number; single_row_vs_seeds?: number; best_batched_rows_per_s?: number; seeds_req_per_s?: number } | null;
  if (inf) lines.push(`inference alone: ${int(inf.single_row_calls_per_s)} single-row calls/s (${n(inf.single_row_vs_seeds, 2)}× the seeds' ${int(inf.seeds_req_per_s)} req/s), ${int(inf.best_batched_rows_per_s)} rows/s batched`);
  const mb = r.micro_batching as { max_batch: number; max_wait_us: number; max_sustainable_eps: number; p99_ms_at_1000eps: number | null; default: boolean }[] | null;
  if (mb) for (const m of mb) lines.push(`micro-batching maxBatch ${m.max_batch}, maxWait ${m.max_wait_us} µs${m.default ? ' (default)' : ''}: max ${int(m.max_sustainable_eps)}/s, p99 @1000/s ${n(m.p99_ms_at_1000eps, 2)} ms`);
  const sc = r.cpu_scaling as { points?: ScalingPoint[] } | null;
  for (const p of sc?.points ?? []) lines.push(`cpu-scaling ${p.model}, ${p.workers} worker(s): drain ${int(p.drain_eps)}/s, p99 @1000/s ${n(p.p99_ms_at_rate, 2)} ms`);
  lines.push(...amdahlLines(r));
  const kc = r.kafka_client;
  if (kc) {
    for (const [name, f] of [['kafkajs (default)', kc.kafkajs], ['@platformatic/kafka (KAFKA_CLIENT=platformatic)', kc.platformatic]] as const) {
      lines.push(`engine on ${name}: max ${int(f.max_sustainable_eps)}/s, p50/p99 at 1,000/s ${n(f.p50_ms_at_1000eps, 2)}/${n(f.p99_ms_at_1000eps, 2)} ms, p99 at ${int(f.near_5000?.rate)}/s ${n(f.near_5000?.p99_ms, 2)} ms; exactly-once max ${int(f.exactly_once_max_eps)}/s, p99 at 1,000/s ${n(f.exactly_once_p99_ms_at_1000eps, 2)} ms; drain (${kc.workers} workers) ${int(f.drain_eps)}/s at ${n(f.drain_engine_us_per_event)} µs engine CPU per event (main thread ${n(f.drain_main_us_per_event)})`);
    }
  }
  for (const m of r.multi_process?.results ?? []) {
    lines.push(`${m.processes} engine process(es) × ${m.workers_per_process} worker(s): max ${int(m.max_throughput_eps)}/s (per process ${m.per_process_eps.join(' / ')}), p99 ${n(m.latency.p99_ms, 2)} ms at ${int(m.latency_rate_eps)}/s, machine CPU ${n(m.cpu_pct.machine)}%`);
  }
  return lines;
}

function machineLine(r: Results): string {
  const m = r.machine;
  return `${m.cpus} CPUs (${m.cpu_model}), Node ${m.node}, Kafka ${m.kafka}, Redis ${m.redis}, ${m.os}; load average at start ${m.load_avg_at_start.join(' ')}${m.load_avg_at_end ? `, at end ${m.load_avg_at_end.join(' ')}` : ''} (the machine is shared: load above ~2 means other work competed); commit ${r.git_commit}; ${r.generated_at}; ${Math.round(r.duration_s)} s${r.quick ? '; QUICK smoke run: numbers not representative' : ''}`;
}

function text(t: Table): string {
  const w = t.head.map((h, i) => Math.max(h.length, ...t.rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i < 2 ? c.padEnd(w[i]) : c.padStart(w[i]))).join('  ');
  return [line(t.head), w.map((x) => '-'.repeat(x)).join('  '), ...t.rows.map(line)].join('\n');
}

function markdown(t: Table): string {
  return [`| ${t.head.join(' | ')} |`, `|${t.head.map((_, i) => (i < 2 ? ' --- ' : ' ---: ')).join('|')}|`, ...t.rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}

const split = (r: Results) => ({
  steps: r.scenarios.filter((e) => e.target_rate !== null),
  inference: r.scenarios.filter((e) => e.target_rate === null),
});

export function textReport(r: Results): string {
  const { steps, inference } = split(r);
  const parts = [`scorestream bench — ${machineLine(r)}`, harnessLine(r), ''];
  if (steps.length) parts.push(text(stepTable(steps)), '');
  if (inference.length) parts.push(text(inferenceTable(inference)), '');
  const sc = scalingTable(r);
  if (sc) parts.push(text(sc), '');
  parts.push(...summaryLines(r));
  return parts.join('\n') + '\n';
}

/** bench/results/latest.md: the table, summary and charts, for the README to link or include. */
export function writeMarkdown(outDir: string, r: Results, charts: string[], name: string): string {
  const { steps, inference } = split(r);
  const md = [
    '# scorestream benchmark — latest results',
    '',
    `Machine: ${machineLine(r)}.`,
    '',
    `Harness: ${harnessLine(r)}.`,
    '',
    'Generated by `npm run bench` (open-loop load through the real Kafka broker and Redis; latency = prediction read back from the output topic − scheduled send time). Do not edit: rerun the bench.',
    '',
    '## Summary',
    '',
    ...summaryLines(r).map((l) => (l.startsWith('  ') ? `  - ${l.trim()}` : `- ${l}`)),
    '',
  ];
  if (steps.length) md.push('## End-to-end steps', '', markdown(stepTable(steps)), '');
  if (inference.length) md.push('## Inference alone', '', markdown(inferenceTable(inference)), '');
  const sc = scalingTable(r);
  if (sc) md.push('## CPU scaling (backlog drain; CPU % of one core over the drain, per thread class)', '', markdown(sc), '', ...amdahlLines(r).map((l) => `- ${l}`), '');
  if (charts.length) {
    md.push('## Charts', '');
    for (const f of [CHART_FILES.latency, CHART_FILES.workers, CHART_FILES.cdf].map((x) => chartFile(x, name))) if (charts.some((c) => c.endsWith(f))) md.push(`![${f}](${f})`, '');
  }
  const file = join(outDir, `${name}.md`);
  writeFileSync(file, md.join('\n'));
  return file;
}
