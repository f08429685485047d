// Model hot reload during a real-Kafka run: SIGHUP and --watch-model swap the model between
// batches with no event lost or scored twice; a corrupt model is refused and the old one serves.
import '../../src/kafka/kafkajs-read-committed.js'; // before kafkajs: fixes its read_committed filter
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Producer } from 'kafkajs';
import { startEngine, type EngineProcess } from '../kit/engine-process.js';
import { allOffsets, collect, connectProducer, eventValue, freshRun, produce, sourceOf, until, type OutRecord } from './kafka-io.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const V1_DIR = join(ROOT, 'models');
const ALT_DIR = join(ROOT, 'models/fixtures/alt');
const version = (dir: string) => JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8')).model_version as string;
const V1 = version(V1_DIR);
const ALT = version(ALT_DIR);

const temps: string[] = [];
after(() => {
  for (const d of temps) rmSync(d, { recursive: true, force: true });
});

function modelDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'ss-ops-model-'));
  temps.push(d);
  install(V1_DIR, d);
  return d;
}

/** Replaces the served model's files, the model first (as a careless operator would). */
function install(from: string, to: string): void {
  copyFileSync(join(from, 'model.onnx'), join(to, 'model.onnx'));
  copyFileSync(join(from, 'model.json'), join(to, 'model.json'));
}

/** Produces a steady stream of events for 40 users until stopped. */
function steadyProducer(p: Producer, topic: string): { stop(): Promise<number> } {
  let running = true;
  let n = 0;
  const loop = (async () => {
    while (running) {
      const batch = Array.from({ length: 10 }, () => {
        const user = `u${n % 40}`;
        return { key: user, value: eventValue({ user, product: `p${n++}`, ts: Date.now() }) };
      });
      await produce(p, topic, batch);
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return n;
    },
  };
}

const versionOf = (r: OutRecord) => (JSON.parse(r.value) as { model_version: string }).model_version;

/** Every input offset has exactly one output, and each user's outputs switch model versions once, old → new. */
function audit(inputs: string[], outputs: OutRecord[], order: string[]): void {
  const seen = new Map<string, number>();
  for (const r of outputs) seen.set(sourceOf(r), (seen.get(sourceOf(r)) ?? 0) + 1);
  const lost = inputs.filter((o) => !seen.has(o));
  const dup = [...seen].filter(([, c]) => c > 1);
  const known = new Set(inputs);
  const extra = [...seen.keys()].filter((o) => !known.has(o));
  assert.deepEqual({ lost: lost.length, duplicated: dup.length, unknown: extra.length }, { lost: 0, duplicated: 0, unknown: 0 });
  const byUser = new Map<string, OutRecord[]>();
  for (const r of outputs) (byUser.get(r.key!) ?? byUser.set(r.key!, []).get(r.key!)!).push(r);
  for (const [user, rs] of byUser) {
    const offsetOf = (r: OutRecord) => Number(JSON.parse(r.value).source.offset);
    rs.sort((a, b) => offsetOf(a) - offsetOf(b));
    let stage = 0;
    for (const r of rs) {
      const s = order.indexOf(versionOf(r));
      assert.ok(s >= stage, `${user}: model version went back from ${order[stage]} to ${versionOf(r)}`);
      stage = s;
    }
  }
}

test('SIGHUP swaps to a new model mid-stream (0 lost, 0 duplicates), then a corrupt model is refused and the new one keeps serving', { timeout: 180_000 }, async (t) => {
  assert.notEqual(V1, ALT);
  const dir = modelDir();
  const run = await freshRun('ops-reload');
  const out = await collect(run.output);
  const producer = await connectProducer();
  let engine: EngineProcess | null = null;
  try {
    engine = await startEngine({ ...run.env, MODEL_PATH: join(dir, 'model.onnx') });
    await engine.waitReady();
    const e = engine;
    assert.equal(await e.metric('scorestream_model_info', { version: V1 }), 1);
    const stream = steadyProducer(producer, run.input);
    await until(() => out.records.length >= 100, 60_000, '100 outputs of the first model');

    install(ALT_DIR, dir);
    e.child.kill('SIGHUP');
    await until(async () => (await e.metric('scorestream_model_info', { version: ALT })) === 1, 60_000, 'model_info to show the new version');
    assert.equal(await e.metric('scorestream_model_info', { version: V1 }), 0);
    const swappedAt = out.records.length;
    await until(() => out.records.slice(swappedAt).filter((r) => versionOf(r) === ALT).length >= 100, 60_000, '100 outputs of the new model');

    // A corrupt model whose model.json matches it (so onnxruntime itself must refuse it).
    const junk = Buffer.from('definitely not onnx');
    const meta = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8'));
    meta.sha256 = createHash('sha256').update(junk).digest('hex');
    meta.model_version = meta.sha256.slice(0, 12);
    writeFileSync(join(dir, 'model.onnx'), junk);
    writeFileSync(join(dir, 'model.json'), JSON.stringify(meta));
    e.child.kill('SIGHUP');
    await until(() => e.stderr().includes('new model refused'), 60_000, 'the refusal log line');
    const refusal = JSON.parse(e.stderr().split('\n').find((l) => l.includes('new model refused'))!);
    assert.equal(refusal.level, 50);
    assert.match(refusal.error, /onnxruntime cannot load it/);
    assert.equal(await e.metric('scorestream_model_info', { version: ALT }), 1);
    const refusedAt = out.records.length;
    await until(() => out.records.length >= refusedAt + 100, 60_000, '100 outputs after the refusal');

    const produced = await stream.stop();
    const inputs = await allOffsets(run.input);
    assert.equal(inputs.length, produced);
    await out.waitFor(inputs.length, 60_000);
    await new Promise((r) => setTimeout(r, 1000)); // room for any duplicate to show up
    const { code } = await e.stop();
    assert.equal(code, 0, e.stderr().slice(-3000));

    audit(inputs, out.records, [V1, ALT]);
    t.diagnostic(`${inputs.length} events; outputs by model: ${V1} ${out.records.filter((r) => versionOf(r) === V1).length}, ${ALT} ${out.records.filter((r) => versionOf(r) === ALT).length}`);
    const versions = out.records.map(versionOf);
    assert.ok(versions.includes(V1) && versions.includes(ALT));
    assert.ok(out.records.slice(refusedAt).every((r) => versionOf(r) === ALT), 'after the refusal the new model keeps serving');
    assert.ok(out.records.every((r) => !(JSON.parse(r.value) as { fallback: boolean }).fallback));
    assert.match(e.stderr(), new RegExp(`"modelVersion":"${ALT}".*"msg":"model reloaded"`));
    // Logs at info level carry no event payloads.
    assert.ok(!/"p\d+"/.test(e.stderr()), 'a product id reached the logs');
  } finally {
    await engine?.kill9();
    await producer.disconnect();
    await out.stop();
  }
});

test('--watch-model: replacing the files reloads without a signal; no event lost or duplicated', { timeout: 180_000 }, async (t) => {
  const dir = modelDir();
  const run = await freshRun('ops-watch');
  const out = await collect(run.output);
  const producer = await connectProducer();
  let engine: EngineProcess | null = null;
  try {
    engine = await startEngine({ ...run.env, MODEL_PATH: join(dir, 'model.onnx') }, ['--watch-model']);
    await engine.waitReady();
    const e = engine;
    const stream = steadyProducer(producer, run.input);
    await until(() => out.records.length >= 50, 60_000, '50 outputs of the first model');
    install(ALT_DIR, dir);
    await until(async () => (await e.metric('scorestream_model_info', { version: ALT })) === 1, 60_000, 'model_info to show the new version');
    const swappedAt = out.records.length;
    await until(() => out.records.slice(swappedAt).filter((r) => versionOf(r) === ALT).length >= 50, 60_000, '50 outputs of the new model');
    const produced = await stream.stop();
    const inputs = await allOffsets(run.input);
    assert.equal(inputs.length, produced);
    await out.waitFor(inputs.length, 60_000);
    await new Promise((r) => setTimeout(r, 1000));
    const { code } = await e.stop();
    assert.equal(code, 0, e.stderr().slice(-3000));
    audit(inputs, out.records, [V1, ALT]);
    t.diagnostic(`${inputs.length} events; outputs by model: ${V1} ${out.records.filter((r) => versionOf(r) === V1).length}, ${ALT} ${out.records.filter((r) => versionOf(r) === ALT).length}`);
    assert.match(e.stderr(), /"trigger":"watch-model"/);
  } finally {
    await engine?.kill9();
    await producer.disconnect();
    await out.stop();
  }
});
