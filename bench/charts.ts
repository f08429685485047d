import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import { cdfOf, decodeHistogram } from './histogram.js';
import type { Results } from './results.js';
import type { Amdahl, ScalingPoint } from './cpu-scaling.js';

/**
 * SVG charts from a results file, rendered headlessly with Vega-Lite (no browser, no canvas):
 * latency percentiles vs offered rate, throughput vs worker count (with the Amdahl curve),
 * and latency CDFs at the reference rate.
 */

const SERIES: Record<string, string> = {
  'rate-sweep': 'scorestream (default)',
  'exactly-once': 'scorestream exactly-once',
  'baseline-passthrough': 'kafkajs pass-through',
  'baseline-passthrough-platformatic': '@platformatic/kafka pass-through',
  'baseline-naive': 'naive per-message consumer',
};

async function render(spec: TopLevelSpec, file: string): Promise<void> {
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  const svg = await view.toSVG();
  view.finalize();
  writeFileSync(file, svg);
}

function subtitle(r: Results): string {
  return `${r.machine.cpus} CPUs (${r.machine.cpu_model}), Node ${r.machine.node}, Kafka ${r.machine.kafka}, ${r.generated_at.slice(0, 10)}${r.quick ? ' — QUICK smoke run, not representative' : ''}`;
}

function latencyVsRate(r: Results): TopLevelSpec | null {
  const rows: Record<string, unknown>[] = [];
  for (const e of r.scenarios) {
    const series = SERIES[e.name];
    // The first run of a repeated sweep, and the deciding attempt of a repeated step.
    if (!series || e.target_rate === null || (e.run ?? 1) > 1 || r.scenarios.some((x) => x !== e && x.name === e.name && (x.run ?? 1) === (e.run ?? 1) && x.target_rate === e.target_rate && (x.attempt ?? 1) > (e.attempt ?? 1))) continue;
    for (const [p, v] of [['p50', e.p50_ms], ['p95', e.p95_ms], ['p99', e.p99_ms], ['p99.9', e.p999_ms]] as const) {
      if (Number.isFinite(v) && v > 0) rows.push({ series, rate: e.target_rate, percentile: p, latency_ms: v, held: e.held ? 'held' : 'did not hold' });
    }
  }
  if (!rows.length) return null;
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: 'End-to-end latency vs offered rate (Kafka in → prediction read back)', subtitle: subtitle(r) },
    data: { values: rows },
    facet: { field: 'series', type: 'nominal', title: null, sort: Object.values(SERIES) },
    columns: 2,
    spec: {
      width: 320,
      height: 220,
      layer: [
        {
          mark: { type: 'line', point: true },
          encoding: {
            x: { field: 'rate', type: 'quantitative', scale: { type: 'log' }, title: 'offered rate (events/s, open loop)' },
            y: { field: 'latency_ms', type: 'quantitative', scale: { type: 'log' }, title: 'latency (ms)' },
            color: { field: 'percentile', type: 'nominal', sort: ['p50', 'p95', 'p99', 'p99.9'], scale: { scheme: 'viridis' } },
            shape: { field: 'held', type: 'nominal', title: 'step' },
          },
        },
        { mark: { type: 'rule', strokeDash: [4, 4], color: 'firebrick' }, encoding: { y: { datum: 100 } } },
      ],
    },
    resolve: { scale: { x: 'independent' } },
  } as TopLevelSpec;
}

function throughputVsWorkers(r: Results): TopLevelSpec | null {
  const scaling = r.cpu_scaling as { points?: ScalingPoint[]; amdahl?: Amdahl[]; layout?: string } | null;
  const rows: Record<string, unknown>[] = [];
  for (const p of scaling?.points ?? []) if (p.drain_eps !== null) rows.push({ workers: p.workers, eps: p.drain_eps, series: `${p.model}: measured here`, kind: 'measured' });
  for (const a of scaling?.amdahl ?? []) for (const p of a.projected) rows.push({ workers: p.cores, eps: p.eps, series: `${a.model}: PROJECTION (Amdahl, serial ${a.serial_us_per_event} µs/event)`, kind: 'projection' });
  if (!rows.length) return null;
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: 'Backlog drain rate vs worker threads; Amdahl projection to more cores', subtitle: [subtitle(r), `layout: ${scaling?.layout ?? '?'}`] },
    width: 480,
    height: 280,
    data: { values: rows },
    mark: { type: 'line', point: true },
    encoding: {
      x: { field: 'workers', type: 'quantitative', scale: { type: 'log', base: 2 }, axis: { values: [1, 2, 4, 8, 16], format: 'd' }, title: 'worker threads (measured) / cores (projection)' },
      y: { field: 'eps', type: 'quantitative', scale: { zero: true }, axis: { format: ',d' }, title: 'events/s' },
      color: { field: 'series', type: 'nominal', title: null, legend: { orient: 'bottom', columns: 1, labelLimit: 480 } },
      strokeDash: { field: 'kind', type: 'nominal', title: null, scale: { domain: ['measured', 'projection'], range: [[1, 0], [5, 4]] } },
    },
  } as TopLevelSpec;
}

function latencyCdf(r: Results): TopLevelSpec | null {
  const rows: Record<string, unknown>[] = [];
  const add = (label: string, hdr: string) => {
    for (const p of cdfOf(decodeHistogram(hdr))) {
      if (p.percentile >= 100) continue;
      rows.push({ series: label, nines: -Math.log10(1 - p.percentile / 100), percentile: p.percentile, latency_ms: Math.max(p.latency_ms, 0.001) });
    }
  };
  for (const e of r.scenarios) {
    const series = SERIES[e.name];
    if (series && e.target_rate === 1000 && (e.run ?? 1) === 1 && (e.attempt ?? 1) === 1) add(`${series} @ 1000/s`, e.hdr);
  }
  const maxEps = r.summary.max_sustainable_eps;
  const atMax = r.scenarios.filter((e) => e.name === 'rate-sweep' && e.target_rate === maxEps && maxEps !== 1000 && e.held).pop();
  if (atMax) add(`${SERIES['rate-sweep']} @ ${maxEps}/s (max sustainable)`, atMax.hdr);
  if (!rows.length) return null;
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: 'Latency distribution (end to end)', subtitle: subtitle(r) },
    width: 480,
    height: 300,
    data: { values: rows },
    mark: { type: 'line', point: { size: 12 } },
    encoding: {
      x: {
        field: 'nines',
        type: 'quantitative',
        title: 'percentile',
        scale: { domain: [0, 4] },
        axis: { values: [0, 1, 2, 3, 4], labelExpr: "['0%', '90%', '99%', '99.9%', '99.99%'][datum.value]" },
      },
      y: { field: 'latency_ms', type: 'quantitative', scale: { type: 'log' }, title: 'latency (ms)' },
      color: { field: 'series', type: 'nominal', title: null, legend: { orient: 'bottom', columns: 1, labelLimit: 460 } },
      tooltip: [{ field: 'series' }, { field: 'percentile' }, { field: 'latency_ms' }],
    },
  } as TopLevelSpec;
}

export const CHART_FILES = { latency: 'latency-vs-rate.svg', workers: 'throughput-vs-workers.svg', cdf: 'latency-cdf.svg' } as const;

/** A full run's chart files keep their names; quick and partial runs prefix theirs. */
export const chartFile = (file: string, name: string): string => (name === 'latest' ? file : `${name}-${file}`);

/** Renders every chart the results have data for; returns the files written. */
export async function writeCharts(outDir: string, r: Results, name: string): Promise<string[]> {
  const out: string[] = [];
  const specs: [TopLevelSpec | null, string][] = [
    [latencyVsRate(r), CHART_FILES.latency],
    [throughputVsWorkers(r), CHART_FILES.workers],
    [latencyCdf(r), CHART_FILES.cdf],
  ];
  for (const [spec, file] of specs) {
    if (!spec) continue;
    await render(spec, join(outDir, chartFile(file, name)));
    out.push(join(outDir, chartFile(file, name)));
  }
  return out;
}
