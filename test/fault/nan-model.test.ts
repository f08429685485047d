// Poison values from the model: a model that returns NaN, +Infinity or -Infinity for some rows
// (models/fixtures/nan-model: views mod 5 = 1, 2, 3). In embedded mode, fed a known sequence of
// events on stdin: no NaN or Infinity ever reaches the output; exactly those rows carry the
// model's fallback_prediction with fallback=true, and scorestream_fallbacks_total{reason="model"}
// counts them. The other rows are the model's own 0.25.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { freePort, metricValue } from '../kit/engine-process.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const MODEL = 'models/fixtures/nan-model/model.onnx';
const META = JSON.parse(readFileSync(new URL('../../models/fixtures/nan-model/model.json', import.meta.url), 'utf8')) as { fallback_prediction: number; model_version: string };
const USERS = 10;
const PER_USER = 30;

/** What the fixture model does with a row whose views count is `views`. */
const poisoned = (views: number) => [1, 2, 3].includes(views % 5);

test('a model returning NaN/±Infinity for some rows: those rows get the fallback, flagged and counted; no NaN or Infinity in the output', { timeout: 120_000 }, async () => {
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', '--model-path', MODEL, '--input', '-'], {
    cwd: ROOT,
    env: { ...process.env, KAFKA_BROKERS: '', FEATURE_STORE: 'memory', WORKERS: '2', METRICS_PORT: String(port), LOG_LEVEL: 'warn', STATUS_LINE: 'off' },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (err += d));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  try {
    // Only views: the k-th event of a user is scored with views = k (the in-process store counts it first).
    const base = Date.now() - 60_000;
    const lines: string[] = [];
    for (let k = 0; k < PER_USER; k++) {
      for (let u = 0; u < USERS; u++) lines.push(JSON.stringify({ user_id: `nan-u${u}`, product_id: `p${k}`, category: 'books', event_type: 'view', timestamp_ms: base + k * USERS + u }));
    }
    child.stdin.write(lines.join('\n') + '\n');
    const total = USERS * PER_USER;
    const deadline = Date.now() + 60_000;
    while (out.split('\n').filter((l) => l.startsWith('{')).length < total) {
      if (child.exitCode !== null) assert.fail(`engine exited (${child.exitCode}):\n${err.slice(-3000)}`);
      if (Date.now() > deadline) assert.fail(`only ${out.split('\n').filter((l) => l.startsWith('{')).length} of ${total} predictions:\n${err.slice(-3000)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();

    assert.ok(!/NaN|Infinity/.test(out), 'NaN or Infinity in the output');
    const outputs = out.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { user_id: string; prediction: unknown; fallback: boolean; model_version: string });
    assert.equal(outputs.length, total);
    const seen = new Map<string, number>();
    let expectedFallbacks = 0;
    for (const o of outputs) {
      const views = (seen.get(o.user_id) ?? 0) + 1; // a user's predictions come out in input order
      seen.set(o.user_id, views);
      assert.equal(typeof o.prediction, 'number');
      assert.ok(Number.isFinite(o.prediction), `user ${o.user_id} views ${views}: prediction ${o.prediction}`);
      assert.equal(o.model_version, META.model_version);
      if (poisoned(views)) {
        expectedFallbacks++;
        assert.deepEqual({ views, prediction: o.prediction, fallback: o.fallback }, { views, prediction: META.fallback_prediction, fallback: true });
      } else {
        assert.deepEqual({ views, prediction: o.prediction, fallback: o.fallback }, { views, prediction: 0.25, fallback: false });
      }
    }
    assert.equal(expectedFallbacks, USERS * 18); // 18 of every 30 views counts are 1, 2 or 3 mod 5
    assert.equal(metricValue(metrics, 'scorestream_fallbacks_total', { reason: 'model' }), expectedFallbacks);
    assert.equal(metricValue(metrics, 'scorestream_fallbacks_total'), expectedFallbacks, 'no fallback for another reason');
    assert.match(err, /NaN or Infinity/);
    child.stdin.end(); // input finished: the engine drains and exits 0
    assert.equal(await exited, 0, err.slice(-3000));
  } finally {
    child.kill('SIGKILL');
  }
});
