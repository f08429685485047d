// LanePool with 2 real worker threads and the real model: per-lane results in dispatch order
// (also across local completions and a worker crash), and checked hot reloads.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { LanePool, type LaneResult } from '../../src/lanes/lane-pool.js';
import { FeatureStoreError, ModelLoadError } from '../../src/shared/errors.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const MODEL = join(ROOT, 'models/model.onnx');
const META = join(ROOT, 'models/model.json');
const ALT = join(ROOT, 'models/fixtures/alt/model.onnx');
const ALT_META = join(ROOT, 'models/fixtures/alt/model.json');
const VERSION = (JSON.parse(readFileSync(META, 'utf8')) as { model_version: string }).model_version;
const ALT_VERSION = (JSON.parse(readFileSync(ALT_META, 'utf8')) as { model_version: string }).model_version;
const expected = JSON.parse(readFileSync(join(ROOT, 'models/fixtures/expected.json'), 'utf8')) as { rows: number[][]; onnx_probabilities: number[] };

interface Ctx {
  lane: number;
  seq: number;
  /** Fixture row indexes scored by this request; empty for a local completion. */
  rows: number[];
  local: boolean;
}

const received: { ctx: Ctx; res: LaneResult }[] = [];
const restarts: { lane: number; err: Error }[] = [];
const fatals: Error[] = [];
let pool: LanePool<Ctx>;
const nextSeq = [0, 0];
let tmp: string;

before(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'ss-lanepool-'));
  pool = new LanePool<Ctx>(
    {
      workers: 2,
      modelPath: MODEL,
      metaPath: META,
      maxBatch: 16,
      maxWaitUs: 500,
      restartBackoff: { initialMs: 20, maxMs: 200, multiplier: 2 },
      maxRestarts: 10,
      restartWindowMs: 60_000,
    },
    {
      onResult: (ctx, res) => received.push({ ctx, res }),
      onRestart: (lane, err) => restarts.push({ lane, err }),
      onFatal: (err) => fatals.push(err),
    },
  );
  await pool.start();
});

after(async () => {
  await pool?.close();
  rmSync(tmp, { recursive: true, force: true });
});

let rowCursor = 0;
/** Dispatches 1..5 fixture rows to `lane`. */
function dispatch(lane: number): void {
  const k = 1 + (rowCursor % 5);
  const rows = Array.from({ length: k }, (_, i) => (rowCursor + i) % expected.rows.length);
  rowCursor += k;
  const f = Float32Array.from(rows.flatMap((r) => expected.rows[r]));
  pool.dispatch(lane, f, k, { lane, seq: nextSeq[lane]++, rows, local: false });
}

function completeLocally(lane: number): void {
  pool.completeLocally(lane, 2, { lane, seq: nextSeq[lane]++, rows: [], local: true }, { probs: null, error: new FeatureStoreError('fallback'), modelVersion: '', inferUs: 0, batchRows: 2 });
}

async function waitForAll(timeoutMs = 30_000): Promise<void> {
  const want = nextSeq[0] + nextSeq[1];
  const deadline = Date.now() + timeoutMs;
  while (received.length < want) {
    if (Date.now() > deadline) throw new Error(`only ${received.length} of ${want} results arrived`);
    await sleep(10);
  }
  await sleep(50); // anything extra (a duplicate) would show up now
}

/** Every request dispatched so far came back exactly once, in dispatch order per lane, with correct probabilities. */
function checkResults(version?: string): void {
  assert.equal(received.length, nextSeq[0] + nextSeq[1], 'one result per request, no duplicates');
  for (const lane of [0, 1]) {
    const seqs = received.filter((r) => r.ctx.lane === lane).map((r) => r.ctx.seq);
    assert.deepEqual(seqs, Array.from({ length: nextSeq[lane] }, (_, i) => i), `lane ${lane} results in dispatch order`);
  }
  for (const { ctx, res } of received) {
    if (ctx.local) {
      assert.equal(res.probs, null);
      assert.equal(res.error?.message, 'fallback');
      continue;
    }
    assert.ok(res.probs, `lane ${ctx.lane} seq ${ctx.seq} failed: ${res.error}`);
    assert.equal(res.probs.length, ctx.rows.length);
    if (version) assert.equal(res.modelVersion, version);
    if (res.modelVersion === VERSION) {
      ctx.rows.forEach((r, i) => assert.ok(Math.abs(res.probs![i] - expected.onnx_probabilities[r]) <= 1e-5, `lane ${ctx.lane} seq ${ctx.seq} row ${r}`));
    }
    // A micro-batch's size rides on its first request only (0 on the others).
    assert.ok(res.batchRows === 0 || res.batchRows >= ctx.rows.length);
  }
}

test('starts both lanes with the model loaded', { timeout: 60_000 }, () => {
  assert.equal(pool.size, 2);
  assert.equal(pool.allReady, true);
  assert.equal(pool.modelVersion, VERSION);
  const ids = pool.laneThreadIds();
  assert.equal(new Set(ids).size, 2, `two distinct worker threads: ${ids}`);
  assert.ok(ids.every((id) => id > 0));
});

test('results come back per lane in dispatch order, local completions interleaved', { timeout: 60_000 }, async () => {
  for (let i = 0; i < 400; i++) {
    const lane = i % 3 === 0 ? 1 : 0;
    if (i % 7 === 3) completeLocally(lane);
    else dispatch(lane);
    if (i % 50 === 0) await sleep(1);
  }
  // A local completion behind in-flight requests waits for them.
  dispatch(1);
  completeLocally(1);
  assert.ok(pool.rowsInFlight > 0);
  await waitForAll();
  checkResults(VERSION);
  assert.equal(pool.rowsInFlight, 0);
});

test('a crashed worker is replaced and its in-flight requests re-sent: exactly one result each, in order', { timeout: 60_000 }, async () => {
  const before = pool.laneThreadIds();
  const restartsBefore = pool.totalRestarts;
  for (let i = 0; i < 100; i++) dispatch(i % 2);
  pool.crashLane(0);
  // Requests dispatched while the lane is down (or not yet known to be down).
  for (let i = 0; i < 200; i++) {
    if (i % 11 === 5) completeLocally(i % 2);
    else dispatch(i % 2);
    if (i % 20 === 0) await sleep(2);
  }
  await waitForAll();
  checkResults(VERSION);
  assert.equal(pool.totalRestarts, restartsBefore + 1);
  assert.equal(restarts.length, 1);
  assert.equal(restarts[0].lane, 0);
  assert.match(restarts[0].err.message, /injected crash in lane 0/);
  assert.equal(fatals.length, 0);
  // Wait for the replacement to report ready (it may already have).
  for (let i = 0; i < 500 && !pool.allReady; i++) await sleep(10);
  assert.equal(pool.allReady, true);
  const now = pool.laneThreadIds();
  assert.notEqual(now[0], before[0], 'lane 0 runs on a new thread');
  assert.equal(now[1], before[1], 'lane 1 was not disturbed');
  // The replaced lane keeps serving.
  for (let i = 0; i < 20; i++) dispatch(0);
  await waitForAll();
  checkResults(VERSION);
});

test('reload of a corrupt model is refused and the old version keeps serving', { timeout: 60_000 }, async () => {
  const bad = join(tmp, 'model.onnx');
  writeFileSync(bad, Buffer.from('not a model at all'));
  copyFileSync(META, join(tmp, 'model.json'));
  const r = await pool.reload(bad, join(tmp, 'model.json'));
  assert.equal(r.ok, false);
  assert.ok(!r.ok && r.error instanceof ModelLoadError && r.error.path === bad, `error names the file: ${!r.ok && r.error.message}`);
  assert.equal(pool.modelVersion, VERSION);
  for (let i = 0; i < 40; i++) dispatch(i % 2);
  await waitForAll();
  checkResults(VERSION);
});

test('reload of the same model succeeds; a different model swaps the version in', { timeout: 60_000 }, async () => {
  const same = await pool.reload(MODEL, META);
  assert.deepEqual(same, { ok: true, modelVersion: VERSION });
  for (let i = 0; i < 40; i++) dispatch(i % 2);
  await waitForAll();
  checkResults(VERSION);

  const alt = await pool.reload(ALT, ALT_META);
  assert.deepEqual(alt, { ok: true, modelVersion: ALT_VERSION });
  assert.equal(pool.modelVersion, ALT_VERSION);
  const from = received.length;
  for (let i = 0; i < 20; i++) dispatch(i % 2);
  await waitForAll();
  checkResults();
  assert.ok(received.slice(from).every((r) => r.res.modelVersion === ALT_VERSION), 'every later batch uses the new model');

  const back = await pool.reload(MODEL, META);
  assert.deepEqual(back, { ok: true, modelVersion: VERSION });
  assert.equal(fatals.length, 0);
});

test('a reload that races a worker crash still completes, and every lane ends on the new model', { timeout: 60_000 }, async () => {
  const restartsBefore = pool.totalRestarts;
  for (let i = 0; i < 20; i++) dispatch(i % 2);
  pool.crashLane(0);
  const r = await pool.reload(ALT, ALT_META);
  assert.deepEqual(r, { ok: true, modelVersion: ALT_VERSION });
  assert.equal(pool.totalRestarts, restartsBefore + 1);
  for (let i = 0; i < 500 && !pool.allReady; i++) await sleep(10);
  assert.equal(pool.allReady, true);
  await waitForAll();
  checkResults();
  // Both lanes now score with the new model.
  const from = received.length;
  for (let i = 0; i < 20; i++) dispatch(i % 2);
  await waitForAll();
  checkResults();
  const versions = new Set(received.slice(from).map((x) => `${x.ctx.lane}:${x.res.modelVersion}`));
  assert.deepEqual([...versions].sort(), [`0:${ALT_VERSION}`, `1:${ALT_VERSION}`]);
  assert.equal(fatals.length, 0);
});
