import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import { cdfOf, decodeHistogram } from './histogram.js';
import type { Results } from './results.js';

/**
 * SVG charts from a results file, rendered headlessly with Vega-Lite (no browser, no canvas):
 * latency percentiles vs offered rate, throughput vs worker count (with the Amdahl curve),
 * and latency CDFs at the reference rate.
 */

const SERIES: Record<string, string> = {
  'rate-sweep': 'scorestream (default)',
  'exactly-once': 'scorestream exactly-once',
  'baseline-passthrough': 'kafkajs pass-through',
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
    if (!series || e.target_rate === null) continue;
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
  const scaling = r.cpu_scaling as { workers?: { workers: number; max_sustainable_eps: number }[]; amdahl?: { predicted: { cores: number; eps: number }[]; ceiling_eps: number } } | null;
  const measured = scaling?.workers ?? [];
  if (!measured.length) return null;
  const rows: Record<string, unknown>[] = measured.map((m) => ({ workers: m.workers, eps: m.max_sustainable_eps, kind: `measured here (${r.machine.cpus} cores, shared with broker, Redis, bench)` }));
  for (const p of scaling?.amdahl?.predicted ?? []) rows.push({ workers: p.cores, eps: p.eps, kind: 'Amdahl: engine alone on N cores (from main-thread µs/event)' });
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: 'Max sustainable throughput vs worker threads (p99 ≤ 100 ms, ≥ 95% of target)', subtitle: subtitle(r) },
    width: 480,
    height: 280,
    data: { values: rows },
    mark: { type: 'line', point: true },
    encoding: {
      x: { field: 'workers', type: 'quantitative', scale: { type: 'log', base: 2 }, axis: { values: [1, 2, 4, 8, 16, 32, 64], format: 'd' }, title: 'worker threads (measured) / cores (predicted)' },
      y: { field: 'eps', type: 'quantitative', scale: { zero: true }, axis: { format: ',d' }, title: 'events/s' },
      color: { field: 'kind', type: 'nominal', title: null, legend: { orient: 'bottom', labelLimit: 460 } },
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
    if (series && e.target_rate === 1000) add(`${series} @ 1000/s`, e.hdr);
  }
  const maxEps = r.summary.max_sustainable_eps;
  const atMax = r.scenarios.find((e) => e.name === 'rate-sweep' && e.target_rate === maxEps && maxEps !== 1000);
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

/** Renders every chart the results have data for; returns the files written. */
export async function writeCharts(outDir: string, r: Results): Promise<string[]> {
  const out: string[] = [];
  const specs: [TopLevelSpec | null, string][] = [
    [latencyVsRate(r), CHART_FILES.latency],
    [throughputVsWorkers(r), CHART_FILES.workers],
    [latencyCdf(r), CHART_FILES.cdf],
  ];
  for (const [spec, file] of specs) {
    if (!spec) continue;
    await render(spec, join(outDir, file));
    out.push(join(outDir, file));
  }
  return out;
}
