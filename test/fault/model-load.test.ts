// Fault test 6: a corrupt or missing model at start. The engine (Kafka mode, as deployed) exits
// with code 1 and one stderr line naming the file, and never reports ready.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startEngine } from '../kit/engine-process.js';
import { KAFKA_BROKERS, assertServicesReachable, uniqueName } from '../kit/services.js';

const MODELS = fileURLToPath(new URL('../../models', import.meta.url));
let dir = '';

before(async () => {
  await assertServicesReachable();
  dir = mkdtempSync(join(tmpdir(), 'scorestream-model-'));
});
after(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** Runs the engine until it exits; polls /readyz all along. */
async function runBroken(modelPath: string, metaPath: string | null, logLevel: string) {
  const name = uniqueName('fault-model');
  const env: Record<string, string> = {
    KAFKA_BROKERS,
    INPUT_TOPIC: `${name}-in`,
    OUTPUT_TOPIC: `${name}-out`,
    DLQ_VALIDATION_TOPIC: `${name}-dlq-v`,
    DLQ_PROCESSING_TOPIC: `${name}-dlq-p`,
    DLQ_LATE_TOPIC: `${name}-dlq-l`,
    KAFKA_GROUP_ID: name,
    MODEL_PATH: modelPath,
    WORKERS: '2',
    LOG_LEVEL: logLevel,
  };
  if (metaPath) env.MODEL_META_PATH = metaPath;
  const engine = await startEngine(env);
  let readyAnswers = 0;
  let exited = false;
  const polling = (async () => {
    while (!exited) {
      try {
        const r = await fetch(`http://127.0.0.1:${engine.port}/readyz`);
        await r.text();
        if (r.status === 200) readyAnswers++;
      } catch {
        // not listening: not ready
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  const timer = setTimeout(() => engine.child.kill('SIGKILL'), 30_000);
  const { code } = await engine.exited;
  clearTimeout(timer);
  exited = true;
  await polling;
  const lines = engine.stderr().split('\n').filter((l) => l.trim() !== '');
  // With logging on, everything else on stderr is a JSON log record.
  const plain = lines.filter((l) => {
    try {
      JSON.parse(l);
      return false;
    } catch {
      return true;
    }
  });
  return { code, lines, plain, readyAnswers, stdout: engine.stdout() };
}

const cases: { name: string; setup: () => { model: string; meta: string | null; names: string } }[] = [
  {
    name: 'missing model file',
    setup: () => ({ model: join(dir, 'missing.onnx'), meta: join(MODELS, 'model.json'), names: join(dir, 'missing.onnx') }),
  },
  {
    name: 'corrupt model file (truncated; sha256 in model.json does not match)',
    setup: () => {
      const d = mkdtempSync(join(dir, 'trunc-'));
      const bytes = readFileSync(join(MODELS, 'model.onnx'));
      writeFileSync(join(d, 'model.onnx'), bytes.subarray(0, bytes.length >> 1));
      copyFileSync(join(MODELS, 'model.json'), join(d, 'model.json'));
      return { model: join(d, 'model.onnx'), meta: null, names: join(d, 'model.onnx') };
    },
  },
  {
    name: 'corrupt model file (garbage bytes onnxruntime cannot parse; no sha256 to catch it first)',
    setup: () => {
      const d = mkdtempSync(join(dir, 'garbage-'));
      writeFileSync(join(d, 'model.onnx'), Buffer.from('this is not an ONNX protobuf \u0000\u0001\u0002'.repeat(50)));
      const meta = JSON.parse(readFileSync(join(MODELS, 'model.json'), 'utf8'));
      delete meta.sha256;
      writeFileSync(join(d, 'model.json'), JSON.stringify(meta));
      return { model: join(d, 'model.onnx'), meta: null, names: join(d, 'model.onnx') };
    },
  },
  {
    name: 'missing model.json beside the model',
    setup: () => {
      const d = mkdtempSync(join(dir, 'nometa-'));
      copyFileSync(join(MODELS, 'model.onnx'), join(d, 'model.onnx'));
      return { model: join(d, 'model.onnx'), meta: null, names: join(d, 'model.json') };
    },
  },
];

for (const c of cases) {
  test(`${c.name}: exit 1, one stderr line naming the file, never ready`, { timeout: 60_000 }, async () => {
    const { model, meta, names } = c.setup();
    // Logging off: stderr is exactly the one line.
    const quiet = await runBroken(model, meta, 'silent');
    assert.equal(quiet.code, 1, quiet.lines.join('\n'));
    assert.equal(quiet.lines.length, 1, `stderr:\n${quiet.lines.join('\n')}`);
    assert.match(quiet.lines[0], /^scorestream: /);
    assert.ok(quiet.lines[0].includes(names), `"${quiet.lines[0]}" does not name ${names}`);
    assert.equal(quiet.readyAnswers, 0);
    assert.equal(quiet.stdout, '');
    console.log(`# ${c.name}: ${quiet.lines[0]}`);
  });
}

test('corrupt model with logging on: the same single plain line among the JSON logs, never ready', { timeout: 60_000 }, async () => {
  const { model, meta, names } = cases[2].setup();
  const r = await runBroken(model, meta, 'info');
  assert.equal(r.code, 1);
  assert.equal(r.plain.length, 1, `non-log stderr lines:\n${r.plain.join('\n')}`);
  assert.ok(r.plain[0].startsWith('scorestream: ') && r.plain[0].includes(names), r.plain[0]);
  assert.equal(r.readyAnswers, 0);
});
