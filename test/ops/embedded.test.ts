// The embedded default, run the way a new user runs it: no Kafka, no Redis, no settings.
import assert from 'node:assert/strict';
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { SETTINGS } from '../../src/config/config.js';
import type { Prediction as OutputPrediction } from '../kit/audit.js';
import { freePort } from '../kit/engine-process.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const MODEL_VERSION = JSON.parse(readFileSync(join(ROOT, 'models/model.json'), 'utf8')).model_version as string;
const temps: string[] = [];
after(() => {
  for (const d of temps) rmSync(d, { recursive: true, force: true });
});

function tempDir(tag: string): string {
  const d = mkdtempSync(join(tmpdir(), `ss-ops-${tag}-`));
  temps.push(d);
  return d;
}

/** The environment of a user who set nothing: every scorestream setting removed. */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const s of Object.values(SETTINGS)) delete env[s.env];
  delete env.SCORESTREAM_FAULT_INJECTION;
  return { ...env, ...extra };
}

interface Run {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves when `pred` holds for stdout, or rejects after `ms`/on exit. */
  waitFor(pred: (out: string) => boolean, ms: number, what: string): Promise<void>;
}

function run(cmd: string, args: string[], opts: { cwd: string; env: NodeJS.ProcessEnv; stdin?: string; detached?: boolean }): Run {
  const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env, stdio: [opts.stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'], detached: opts.detached });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (err += d));
  if (opts.stdin !== undefined) child.stdin!.end(opts.stdin);
  let done = false;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.once('exit', (code, signal) => r({ code, signal })));
  void exited.then(() => (done = true));
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    exited,
    async waitFor(pred, ms, what) {
      const deadline = Date.now() + ms;
      while (!pred(out)) {
        if (done) throw new Error(`exited before ${what}; stderr:\n${err.slice(-3000)}`);
        if (Date.now() > deadline) throw new Error(`no ${what} within ${ms} ms; stderr:\n${err.slice(-3000)}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
  };
}

interface Prediction extends OutputPrediction {
  source: { topic: string; partition: number; offset: number };
}

/** Parses one output line and checks it is a prediction record of the documented shape. */
function parsePrediction(line: string): Prediction {
  const p = JSON.parse(line) as Prediction;
  assert.deepEqual(Object.keys(p).sort(), ['event_time', 'fallback', 'model_version', 'prediction', 'processing_time', 'product_id', 'source', 'user_id']);
  assert.deepEqual(Object.keys(p.source).sort(), ['offset', 'partition', 'topic']);
  assert.ok(typeof p.source.topic === 'string' && Number.isSafeInteger(p.source.partition) && Number.isSafeInteger(p.source.offset), JSON.stringify(p.source));
  assert.equal(typeof p.user_id, 'string');
  assert.ok(p.prediction >= 0 && p.prediction <= 1, `prediction ${p.prediction}`);
  assert.ok(Number.isSafeInteger(p.event_time) && Number.isSafeInteger(p.processing_time));
  assert.equal(p.model_version, MODEL_VERSION);
  assert.equal(p.fallback, false);
  return p;
}

/** NDJSON prediction lines of a stdout (npm's "> script" banner lines are not output). */
const predictionLines = (out: string) => out.split('\n').filter((l) => l.startsWith('{'));
const hasPrediction = (out: string) => predictionLines(out).some((l) => l.endsWith('}'));

/** A copy of the working tree as a clone would have it (tracked and new files, nothing ignored), sharing node_modules. */
function freshCopy(): string {
  const dir = tempDir('clone');
  const files = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: ROOT, encoding: 'utf8' }).split('\0').filter(Boolean);
  for (const f of files) {
    mkdirSync(dirname(join(dir, f)), { recursive: true });
    try {
      copyFileSync(join(ROOT, f), join(dir, f));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err; // deleted but not yet committed
    }
  }
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir');
  return dir;
}

test('`npm start` on a fresh copy with nothing configured: builds, prints predictions within 10 s, exits 0 on Ctrl-C', { timeout: 240_000 }, async () => {
  const dir = freshCopy();
  const port = await freePort();
  // A terminal's Ctrl-C signals the whole foreground process group (npm and node): same here.
  const r = run('npm', ['start'], { cwd: dir, env: cleanEnv({ METRICS_PORT: String(port) }), detached: true });
  try {
    // npm prints this banner once the prestart build is done and the engine process starts.
    await r.waitFor((o) => o.includes('> node dist/src/main.js'), 200_000, 'npm start banner (build)');
    const started = Date.now();
    await r.waitFor(hasPrediction, 10_000, 'prediction on stdout within 10 s of the engine starting');
    assert.ok(Date.now() - started <= 10_500);
    const ready = await fetch(`http://127.0.0.1:${port}/readyz`);
    assert.equal(ready.status, 200, await ready.text());
    await new Promise((res) => setTimeout(res, 1000));
  } finally {
    process.kill(-r.child.pid!, 'SIGINT');
  }
  await r.exited; // npm itself reports Ctrl-C as exit 130 whatever its script did; the engine's own log says how it stopped:
  const stopped = r.stderr().split('\n').find((l) => l.includes('"msg":"stopped"'));
  assert.ok(stopped, r.stderr().slice(-3000));
  assert.equal(JSON.parse(stopped).drained, true);
  const lines = predictionLines(r.stdout());
  assert.ok(lines.length > 10, `only ${lines.length} predictions`);
  // Graceful stop drains in-flight events: every line is whole and valid.
  for (const l of lines) parsePrediction(l);

  // The built entry point on its own (what `npm start` runs after the build): SIGINT → exit 0.
  const d = run(process.execPath, ['dist/src/main.js'], { cwd: dir, env: cleanEnv({ METRICS_PORT: '0' }) });
  try {
    await d.waitFor(hasPrediction, 10_000, 'prediction from node dist/src/main.js within 10 s');
  } finally {
    d.child.kill('SIGINT');
  }
  assert.equal((await d.exited).code, 0, d.stderr().slice(-3000));
  for (const l of predictionLines(d.stdout())) parsePrediction(l);
});

test('tsx entry point, no KAFKA_BROKERS: generator → predictions on stdout, /readyz 200, SIGINT exits 0, no payloads in the logs', { timeout: 60_000 }, async () => {
  const port = await freePort();
  const r = run(process.execPath, ['--import', 'tsx', 'src/main.ts'], { cwd: ROOT, env: cleanEnv({ METRICS_PORT: String(port), WORKERS: '2' }) });
  try {
    await r.waitFor(hasPrediction, 10_000, 'prediction on stdout within 10 s');
    const ready = await fetch(`http://127.0.0.1:${port}/readyz`);
    assert.equal(ready.status, 200);
    assert.deepEqual(await ready.json(), { ready: true, reasons: [] });
    const health = await fetch(`http://127.0.0.1:${port}/healthz`);
    assert.equal(health.status, 200);
    const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    assert.match(metrics, new RegExp(`^scorestream_model_info\\{version="${MODEL_VERSION}"\\} 1$`, 'm'));
    await r.waitFor((o) => predictionLines(o).length >= 50, 30_000, '50 predictions');
  } finally {
    r.child.kill('SIGINT');
  }
  const { code } = await r.exited;
  assert.equal(code, 0, r.stderr().slice(-3000));
  const preds = predictionLines(r.stdout()).map(parsePrediction);
  // Logs (stderr, info level) carry counts, never event payloads.
  const logs = r.stderr();
  for (const l of logs.split('\n').filter(Boolean)) JSON.parse(l); // JSON logs when not a terminal
  for (const p of preds.slice(0, 50)) assert.ok(!logs.includes(`"${p.product_id}"`), `log contains payload field ${p.product_id}`);
});

/** Event lines around a base time an hour ago (inside the validity window, not late). */
function eventLine(user: string, product: string, type: string, ts: number): string {
  return JSON.stringify({ user_id: user, product_id: product, category: 'books', event_type: type, timestamp_ms: ts });
}

test('--input FILE: good lines → predictions on stdout in order, bad/oversized/late lines → DLQ records in --dlq-output, exit 0 at end of file', { timeout: 60_000 }, async () => {
  const dir = tempDir('input');
  const base = Date.now() - 3600_000;
  const lines = [
    eventLine('u1', 'marker-prod-1', 'view', base), // 0
    '{"user_id": "u2", "product_id": "x"', // 1 not JSON
    eventLine('u1', 'marker-prod-2', 'add_to_cart', base + 1000), // 2
    JSON.stringify({ user_id: 'u3', product_id: 'p', category: 'books', event_type: 'click', timestamp_ms: base }), // 3 bad event_type
    '', // 4 blank: not a record
    eventLine('u2', 'marker-prod-3', 'view', base + 2000), // 5
    JSON.stringify({ user_id: 'u4', product_id: 'p'.repeat(300), category: 'books', event_type: 'view', timestamp_ms: base }), // 6 > max message bytes
    eventLine('u5', 'marker-prod-4', 'view', base - 3600_000), // 7 late: an hour behind the watermark
    eventLine('u1', 'marker-prod-5', 'purchase', base + 3000), // 8
  ];
  const input = join(dir, 'events.ndjson');
  writeFileSync(input, lines.join('\n') + '\n');
  const dlqPath = join(dir, 'dlq.ndjson');
  const r = run(process.execPath, ['--import', 'tsx', 'src/main.ts', '--input', input, '--dlq-output', dlqPath, '--max-message-bytes', '256'], {
    cwd: ROOT,
    env: cleanEnv({ METRICS_PORT: '0', WORKERS: '2' }),
  });
  const { code } = await r.exited;
  assert.equal(code, 0, r.stderr().slice(-3000));
  const preds = predictionLines(r.stdout()).map(parsePrediction);
  assert.deepEqual(preds.map((p) => p.product_id).sort(), ['marker-prod-1', 'marker-prod-2', 'marker-prod-3', 'marker-prod-5']);
  // Per-user order holds (across users, lanes may interleave).
  assert.deepEqual(preds.filter((p) => p.user_id === 'u1').map((p) => p.product_id), ['marker-prod-1', 'marker-prod-2', 'marker-prod-5']);
  const dlq = readFileSync(dlqPath, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { topic: string; record: { error_type: string; field: string; source: { offset: number }; original_event: string } });
  const byOffset = new Map(dlq.map((d) => [d.record.source.offset, d]));
  assert.equal(dlq.length, 4);
  assert.deepEqual([...byOffset.keys()].sort(), [1, 3, 6, 7]);
  assert.equal(byOffset.get(1)!.topic, 'validation_errors');
  assert.equal(byOffset.get(1)!.record.field, 'value');
  assert.equal(byOffset.get(1)!.record.original_event, lines[1]);
  assert.equal(byOffset.get(3)!.topic, 'validation_errors');
  assert.equal(byOffset.get(3)!.record.field, 'event_type');
  assert.equal(byOffset.get(6)!.topic, 'validation_errors');
  assert.match(JSON.stringify(byOffset.get(6)!.record), /exceeds the 256-byte limit/);
  assert.equal(byOffset.get(7)!.topic, 'late_events_dlq');
  assert.equal(byOffset.get(7)!.record.error_type, 'LATE_EVENT');
  // Nothing of the events reached the logs.
  assert.ok(!/marker-prod/.test(r.stderr()), 'payload in logs');
});

test('--input - (stdin) with --output FILE; DLQ records go to stderr', { timeout: 60_000 }, async () => {
  const dir = tempDir('stdin');
  const base = Date.now() - 60_000;
  const good = Array.from({ length: 20 }, (_, i) => eventLine(`u${i % 3}`, `p${i}`, 'view', base + i));
  const out = join(dir, 'predictions.ndjson');
  const r = run(process.execPath, ['--import', 'tsx', 'src/main.ts', '--input', '-', '--output', out], {
    cwd: ROOT,
    env: cleanEnv({ METRICS_PORT: '0', WORKERS: '1' }),
    stdin: [...good, 'not json'].join('\n') + '\n',
  });
  const { code } = await r.exited;
  assert.equal(code, 0, r.stderr().slice(-3000));
  assert.equal(r.stdout(), '');
  const preds = readFileSync(out, 'utf8').trim().split('\n').map(parsePrediction);
  assert.deepEqual(preds.map((p) => p.product_id), good.map((_, i) => `p${i}`)); // one lane: input order
  const dlq = r.stderr().split('\n').filter((l) => l.startsWith('{"topic":')).map((l) => JSON.parse(l));
  assert.equal(dlq.length, 1);
  assert.equal(dlq[0].topic, 'validation_errors');
  assert.equal(dlq[0].record.source.offset, 20);
});

test('a corrupt model refuses to start: one line naming the file, exit 1', { timeout: 60_000 }, async () => {
  const dir = tempDir('badmodel');
  const junk = Buffer.from('this is not an onnx model');
  writeFileSync(join(dir, 'model.onnx'), junk);
  const meta = JSON.parse(readFileSync(join(ROOT, 'models/model.json'), 'utf8'));
  meta.sha256 = createHash('sha256').update(junk).digest('hex');
  meta.model_version = meta.sha256.slice(0, 12);
  writeFileSync(join(dir, 'model.json'), JSON.stringify(meta));
  const r = run(process.execPath, ['--import', 'tsx', 'src/main.ts'], { cwd: ROOT, env: cleanEnv({ METRICS_PORT: '0', MODEL_PATH: join(dir, 'model.onnx') }) });
  const { code } = await r.exited;
  assert.equal(code, 1);
  assert.equal(r.stdout(), '');
  const line = r.stderr().split('\n').find((l) => l.startsWith('scorestream: '));
  assert.ok(line, r.stderr());
  assert.ok(line.includes(join(dir, 'model.onnx')), line);
  assert.match(line, /onnxruntime cannot load it/);
});
