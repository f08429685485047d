// The Grafana dashboard (deploy/grafana/scorestream.json) queries only metrics the engine
// exports: a real engine (embedded mode, `node --import tsx src/main.ts`) is scraped, and every
// metric name in every PromQL expression of the dashboard (panels and template variables) must
// be in its /metrics. Histogram series (_bucket, _sum, _count) count as their histogram.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { cleanEnv } from '../kit/cli.js';
import { freePort } from '../kit/engine-process.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** Every PromQL expression of a dashboard: panel targets (also inside rows) and query variables. */
export function dashboardQueries(dash: { panels?: unknown[]; templating?: { list?: unknown[] } }): string[] {
  const out: string[] = [];
  const walk = (panels: unknown[] = []) => {
    for (const p of panels as { targets?: { expr?: string }[]; panels?: unknown[] }[]) {
      for (const t of p.targets ?? []) if (t.expr) out.push(t.expr);
      walk(p.panels);
    }
  };
  walk(dash.panels);
  for (const v of (dash.templating?.list ?? []) as { type: string; query?: string | { query?: string } }[]) {
    if (v.type !== 'query') continue;
    const q = typeof v.query === 'string' ? v.query : v.query?.query;
    if (q) out.push(q);
  }
  return out;
}

/** Metric names in a PromQL expression: identifiers outside label matchers, strings and ranges. */
export function metricNames(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, '')
    .replace(/\[[^\]]*\]/g, '')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, '');
  return [...bare.matchAll(/\b[a-zA-Z_:][a-zA-Z0-9_:]*\b(?!\s*\()/g)].map((m) => m[0]).filter((n) => n.startsWith('scorestream_'));
}

/** Exported series names: `# TYPE` lines (labelled series with no sample yet have only those). */
function exported(text: string): { names: Set<string>; histograms: Set<string> } {
  const names = new Set<string>();
  const histograms = new Set<string>();
  for (const line of text.split('\n')) {
    const t = /^# TYPE (\S+) (\S+)/.exec(line);
    if (t) {
      names.add(t[1]);
      if (t[2] === 'histogram' || t[2] === 'summary') histograms.add(t[1]);
    } else if (line && !line.startsWith('#')) names.add(line.split(/[{\s]/)[0]);
  }
  return { names, histograms };
}

test('metricNames reads PromQL', () => {
  assert.deepEqual(metricNames('histogram_quantile(0.99, sum by (le) (rate(scorestream_end_to_end_seconds_bucket{instance=~"$instance"}[$__rate_interval])))'), ['scorestream_end_to_end_seconds_bucket']);
  assert.deepEqual(metricNames('sum(rate(a_b{x="scorestream_no"}[1m])) / scorestream_c'), ['scorestream_c']);
  assert.deepEqual(metricNames('label_values(scorestream_workers, instance)'), ['scorestream_workers']);
});

test('every metric the Grafana dashboard queries exists in a running engine\'s /metrics', { timeout: 90_000 }, async () => {
  const dash = JSON.parse(readFileSync(join(ROOT, 'deploy/grafana/scorestream.json'), 'utf8'));
  const queries = dashboardQueries(dash);
  assert.ok(queries.length >= 20, `only ${queries.length} queries found`);
  for (const q of queries) assert.ok(metricNames(q).length > 0, `query names no scorestream metric: ${q}`);

  const port = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: ROOT,
    env: cleanEnv({ METRICS_PORT: String(port), GENERATOR_RATE: '500', WORKERS: '1', STATUS_LINE: 'off', OUTPUT: '/dev/null' }),
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  child.stderr.on('data', (d) => (err += d));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  let done = false;
  void exited.then(() => (done = true));
  let text = '';
  try {
    // Scrape once predictions flow, so histograms and per-batch series have been touched.
    const deadline = Date.now() + 60_000;
    for (;;) {
      if (done) throw new Error(`engine exited:\n${err.slice(-3000)}`);
      if (Date.now() > deadline) throw new Error(`no predictions in /metrics within 60 s:\n${err.slice(-3000)}`);
      try {
        text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
        const m = /^scorestream_predictions_total (\d+)/m.exec(text);
        if (m && Number(m[1]) > 0) break;
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  } finally {
    child.kill('SIGTERM');
    await exited;
  }

  const { names, histograms } = exported(text);
  const missing = new Set<string>();
  for (const q of queries) {
    for (const n of metricNames(q)) {
      const base = n.replace(/_(bucket|sum|count)$/, '');
      if (names.has(n) || (base !== n && histograms.has(base))) continue;
      missing.add(`${n} (in ${q})`);
    }
  }
  assert.deepEqual([...missing], [], 'dashboard queries metrics the engine does not export');
});
