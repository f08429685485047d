// ModelSession: the real model, loaded inside a worker thread of a piscina pool, reproduces the
// probabilities Python computed (models/fixtures/expected.json); bad model files are refused
// with a ModelLoadError naming the file.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import { ModelSession } from '../../../workers/model-session.js';
import { ModelLoadError } from '../../../src/shared/errors.js';
import type { ScoreResult, ScoreTask } from './fixtures/score-worker.js';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const MODEL = join(ROOT, 'models/model.onnx');
const META = join(ROOT, 'models/model.json');
const expected = JSON.parse(readFileSync(join(ROOT, 'models/fixtures/expected.json'), 'utf8')) as {
  model_version: string;
  rows: number[][];
  probabilities: number[];
  onnx_probabilities: number[];
};
const meta = JSON.parse(readFileSync(META, 'utf8')) as { cold_start: number[]; model_version: string };
const TOL = 1e-5;

let pool: Piscina<ScoreTask, ScoreResult>;
let tmp: string;

before(() => {
  pool = new Piscina({
    filename: new URL('./fixtures/score-worker.ts', import.meta.url).href,
    minThreads: 1,
    maxThreads: 1,
    idleTimeout: Infinity,
    atomics: 'disabled',
  });
  tmp = mkdtempSync(join(tmpdir(), 'ss-model-'));
});

after(async () => {
  await pool?.destroy();
  rmSync(tmp, { recursive: true, force: true });
});

const rowsOf = (rows: number[][]): Float32Array => Float32Array.from(rows.flat());

function assertClose(got: ArrayLike<number>, want: number[], what: string): void {
  assert.equal(got.length, want.length, `${what}: length`);
  for (let i = 0; i < want.length; i++) {
    assert.ok(Math.abs(got[i] - want[i]) <= TOL, `${what} row ${i}: ${got[i]} vs expected ${want[i]}`);
  }
}

describe('the real model in a worker thread', () => {
  test('the fixtures are the cold-start row plus 100 rows of this model', { timeout: 10_000 }, () => {
    assert.equal(expected.rows.length, 101);
    assert.deepEqual(expected.rows[0], meta.cold_start);
    assert.equal(expected.model_version, meta.model_version);
  });

  test('cold-start row and 100 rows match expected.json within 1e-5', { timeout: 60_000 }, async () => {
    const cold = await pool.run({ modelPath: MODEL, metaPath: META, rows: rowsOf([meta.cold_start]), n: 1 });
    assert.equal(cold.version, meta.model_version);
    assert.notEqual(cold.threadId, 0, 'scored on a worker thread');
    assertClose(cold.probs, [expected.onnx_probabilities[0]], 'cold start (onnx)');
    assertClose(cold.probs, [expected.probabilities[0]], 'cold start (sklearn)');

    const batch = await pool.run({ modelPath: MODEL, metaPath: META, rows: rowsOf(expected.rows.slice(1)), n: 100 });
    assertClose(batch.probs, expected.onnx_probabilities.slice(1), '100 rows (onnx)');
    assertClose(batch.probs, expected.probabilities.slice(1), '100 rows (sklearn)');
    assert.equal(batch.threadId, cold.threadId);
    assert.equal(batch.loads, 1, 'the session was loaded once for the thread');
  });

  test('results do not depend on how rows are batched', { timeout: 60_000 }, async () => {
    const want = expected.onnx_probabilities;
    const got: number[] = [];
    for (let at = 0; at < expected.rows.length; ) {
      const k = Math.min(1 + (at % 13), expected.rows.length - at);
      const r = await pool.run({ modelPath: MODEL, metaPath: META, rows: rowsOf(expected.rows.slice(at, at + k)), n: k });
      got.push(...r.probs);
      at += k;
    }
    assertClose(got, want, 'uneven batches');
    // score() uses only the first n rows of a longer buffer.
    const r = await pool.run({ modelPath: MODEL, metaPath: META, rows: rowsOf(expected.rows.slice(0, 10)), n: 3 });
    assertClose(r.probs, want.slice(0, 3), 'first 3 of 10 rows');
    assert.equal(r.loads, 1);
  });

  test('a load failure inside the worker rejects the task with a message naming the file', { timeout: 60_000 }, async () => {
    const missing = join(tmp, 'worker-missing.onnx');
    await assert.rejects(pool.run({ modelPath: missing, metaPath: META, rows: rowsOf([meta.cold_start]), n: 1 }), (err: Error) => {
      assert.ok(err.message.includes(missing), err.message);
      return true;
    });
  });
});

describe('ModelSession.load refuses bad models', () => {
  function isLoadError(file: string, re?: RegExp) {
    return (err: unknown) => {
      assert.ok(err instanceof ModelLoadError, `expected ModelLoadError, got ${String(err)}`);
      assert.equal(err.path, file);
      assert.ok(err.message.includes(file), `message should name ${file}: ${err.message}`);
      if (re) assert.match(err.message, re);
      return true;
    };
  }

  test('a missing model file', { timeout: 30_000 }, async () => {
    const missing = join(tmp, 'missing.onnx');
    await assert.rejects(ModelSession.load(missing, META), isLoadError(missing, /cannot read model file/));
  });

  test('a missing model.json (default: beside the model)', { timeout: 30_000 }, async () => {
    const dir = mkdtempSync(join(tmp, 'nometa-'));
    copyFileSync(MODEL, join(dir, 'model.onnx'));
    await assert.rejects(ModelSession.load(join(dir, 'model.onnx')), isLoadError(join(dir, 'model.json'), /metadata/));
  });

  test('a corrupt model file with the real model.json: refused (sha256 mismatch)', { timeout: 30_000 }, async () => {
    const dir = mkdtempSync(join(tmp, 'corrupt-'));
    const file = join(dir, 'model.onnx');
    writeFileSync(file, Buffer.from('this is not an onnx model \x00\x01\x02 garbage'.repeat(20)));
    copyFileSync(META, join(dir, 'model.json'));
    await assert.rejects(ModelSession.load(file, join(dir, 'model.json')), isLoadError(file));
  });

  test('a corrupt model file whose model.json names no sha256: refused by onnxruntime', { timeout: 30_000 }, async () => {
    const dir = mkdtempSync(join(tmp, 'corrupt-nosha-'));
    const file = join(dir, 'model.onnx');
    writeFileSync(file, Buffer.from('garbage garbage garbage'));
    const m = JSON.parse(readFileSync(META, 'utf8'));
    delete m.sha256;
    writeFileSync(join(dir, 'model.json'), JSON.stringify(m));
    await assert.rejects(ModelSession.load(file, join(dir, 'model.json')), isLoadError(file, /onnxruntime cannot load it/));
  });

  test('a model.json whose sha256 does not match the model is refused', { timeout: 30_000 }, async () => {
    const dir = mkdtempSync(join(tmp, 'sha-'));
    const file = join(dir, 'model.onnx');
    copyFileSync(MODEL, file);
    const m = JSON.parse(readFileSync(META, 'utf8'));
    m.sha256 = 'ab'.repeat(32);
    writeFileSync(join(dir, 'model.json'), JSON.stringify(m));
    await assert.rejects(ModelSession.load(file, join(dir, 'model.json')), isLoadError(file, /sha256 .* does not match model\.json/));
  });

  test('a model.json naming an input the model lacks is refused', { timeout: 30_000 }, async () => {
    const dir = mkdtempSync(join(tmp, 'input-'));
    const file = join(dir, 'model.onnx');
    copyFileSync(MODEL, file);
    const m = JSON.parse(readFileSync(META, 'utf8'));
    m.input_name = 'nope';
    writeFileSync(join(dir, 'model.json'), JSON.stringify(m));
    await assert.rejects(ModelSession.load(file, join(dir, 'model.json')), isLoadError(file, /nope/));
  });

  test('the real model loads in the main thread too, with its version', { timeout: 30_000 }, async () => {
    const s = await ModelSession.load(MODEL, META);
    try {
      assert.equal(s.version, meta.model_version);
      assert.equal(s.path, MODEL);
      assertClose(await s.score(rowsOf(expected.rows), 101), expected.onnx_probabilities, 'main thread');
    } finally {
      await s.release();
    }
  });
});
