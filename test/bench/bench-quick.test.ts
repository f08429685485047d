// Smoke test of the benchmark itself: `npm run bench -- --quick` runs every scenario through the
// real broker and Redis and writes the results in the documented shape. No figure is asserted
// (the machine is shared); only that the bench measures, accounts for every event and reports.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

function runBench(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'bench/run.ts', ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

test('npm run bench -- --quick runs every scenario and writes JSON, markdown and SVG charts under its own name', { timeout: 240_000 }, async () => {
  const out = mkdtempSync(join(tmpdir(), 'bench-quick-'));
  try {
    const r = await runBench(['--quick', '--out', out]);
    assert.equal(r.code, 0, `bench exited ${r.code}:\n${r.stderr.slice(-4000)}`);

    const files = readdirSync(out);
    // A quick run never writes latest.* (the committed full-run results).
    for (const f of ['quick.json', 'quick.md', 'quick-latency-vs-rate.svg', 'quick-throughput-vs-workers.svg', 'quick-latency-cdf.svg']) assert.ok(files.includes(f), `${f} missing in ${files}`);
    assert.ok(!files.some((f) => f.startsWith('latest')), `a quick run wrote ${files.filter((f) => f.startsWith('latest'))}`);
    assert.ok(files.some((f) => /^\d{4}-\d\d-\d\dT.*\.json$/.test(f)), 'timestamped JSON missing');
    for (const f of files.filter((x) => x.endsWith('.svg'))) assert.match(readFileSync(join(out, f), 'utf8'), /^<svg[^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"/);

    const res = JSON.parse(readFileSync(join(out, 'quick.json'), 'utf8'));
    assert.equal(res.quick, true);
    // The load harness's own CPU, measured by the bench at 10,000 events/s, and in every step.
    assert.equal(typeof res.harness?.harness_pct, 'number', 'harness.harness_pct');
    assert.equal(res.harness.rate, 10_000);
    assert.ok(res.machine.load_avg_at_start.length === 3 && res.machine.load_avg_at_end.length === 3, 'load averages');
    for (const k of ['cpus', 'cpu_model', 'node', 'kafka']) assert.ok(res.machine[k], `machine.${k}`);
    for (const k of ['max_sustainable_eps', 'passthrough_max_eps', 'passthrough_platformatic_max_eps', 'naive_max_eps', 'p99_ms_at_1000eps', 'main_thread_us_per_event']) assert.ok(k in res.summary, `summary.${k}`);

    const names = new Set(res.scenarios.map((e: { name: string }) => e.name));
    for (const n of ['inference-single', 'inference-pool', 'rate-sweep', 'exactly-once', 'baseline-passthrough', 'baseline-passthrough-platformatic', 'baseline-naive', 'micro-batching']) assert.ok(names.has(n), `no ${n} entry`);
    // cpu-scaling: a drain rate and latency at the fixed rate per worker count, CPU per thread class.
    const points = res.cpu_scaling.points;
    assert.ok(points.length >= 2, 'cpu_scaling.points');
    for (const p of points) {
      assert.ok(!p.error, `cpu-scaling ${p.model} w${p.workers}: ${p.error}`);
      assert.ok(p.drain_eps > 0, `cpu-scaling ${p.model} w${p.workers}: drain_eps`);
      for (const k of ['main_pct', 'workers_pct', 'other_engine_pct', 'broker_pct', 'redis_pct', 'main_us_per_event']) assert.ok(k in p.drain_cpu, `drain_cpu.${k}`);
      assert.ok(p.p99_ms_at_rate > 0, `cpu-scaling ${p.model} w${p.workers}: p99`);
    }
    assert.ok(Array.isArray(res.cpu_scaling.amdahl), 'cpu_scaling.amdahl');
    let readBack = 0;
    for (const e of res.scenarios) {
      for (const k of ['name', 'config', 'target_rate', 'achieved_rate', 'p50_ms', 'p95_ms', 'p99_ms', 'p999_ms', 'max_ms', 'events', 'fallbacks', 'errors']) assert.ok(k in e, `${e.id} lacks ${k}`);
      for (const k of ['workers', 'max_batch', 'max_wait_us', 'guarantee']) assert.ok(k in e.config, `${e.id} config lacks ${k}`);
      assert.ok(e.events > 0, `${e.id}: no events`);
      if (e.target_rate === null) continue;
      assert.ok('harness_pct' in e.cpu, `${e.id}: cpu.harness_pct`);
      // Every measured event is accounted for: read back (once) or counted unfinished.
      assert.ok(e.unfinished >= 0 && e.unfinished <= e.events, `${e.id}: unfinished ${e.unfinished} of ${e.events}`);
      assert.ok(e.p50_ms <= e.p99_ms && e.p99_ms <= e.max_ms, `${e.id}: percentiles out of order`);
      readBack += e.events - e.unfinished;
    }
    assert.ok(readBack > 0, 'no prediction was read back from any output topic');
    // The table on stdout names every scenario that ran.
    for (const n of ['rate-sweep', 'baseline-naive', 'inference']) assert.match(r.stdout, new RegExp(n));
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test('bench rejects an unknown scenario with a usage message and exit code 2', { timeout: 30_000 }, async () => {
  const r = await runBench(['--scenario', 'nope']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /unknown scenario nope/);
});
