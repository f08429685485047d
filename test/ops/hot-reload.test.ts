// Model hot reload during a real-Kafka run: SIGHUP and --watch-model swap the model between
// batches with no event lost or scored twice; a corrupt model is refused and the old one serves.
import '../../src/kafka/kafkajs-read-committed.js'; // before kafkajs: fixes its read_committed filter
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Producer } from 'kafkajs';
import { endOffsets } from '../kit/audit.js';
import type { EngineProcess } from '../kit/engine-process.js';
import { allOffsets, eventValue, produce, sourceOf, until, withOpsRun, type Collector, type OutRecord } from './kafka-io.js';

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

interface ReloadRun {
  /** The served model's directory. */
  dir: string;
  input: string;
  output: string;
  out: Collector;
  e: EngineProcess;
  /** Starts the steady input. */
  startInput(): { stop(): Promise<number> };
}

/** withOpsRun with an engine (with `args`) serving a copy of the first model from its own directory; `body` drives the run. */
async function reloadRun(tag: string, args: string[], body: (r: ReloadRun) => Promise<void>): Promise<void> {
  const dir = modelDir();
  await withOpsRun(tag, async ({ run, producer, out, start }) => {
    const e = await start({ ...run.env, MODEL_PATH: join(dir, 'model.onnx') }, args);
    await e.waitReady();
    await body({ dir, input: run.input, output: run.output, out, e, startInput: () => steadyProducer(producer, run.input) });
  });
}

/** Stops the input, waits for an output of every input offset, stops the engine (exit 0) and audits the outputs against the inputs. */
async function finishRun(t: TestContext, r: ReloadRun, stream: { stop(): Promise<number> }): Promise<void> {
  const produced = await stream.stop();
  const inputs = await allOffsets(r.input);
  assert.equal(inputs.length, produced);
  await r.out.waitFor(inputs.length, 60_000);
  const { code } = await r.e.stop();
  assert.equal(code, 0, r.e.stderr().slice(-3000));
  // The engine has stopped: the output topic's end offsets are final. Reading up to them shows
  // every record it wrote, so a duplicate cannot hide behind the collector's lag.
  let written = 0;
  for (const end of (await endOffsets(r.output)).values()) written += end;
  await r.out.waitFor(written, 60_000);
  audit(inputs, r.out.records, [V1, ALT]);
  t.diagnostic(`${inputs.length} events; outputs by model: ${V1} ${r.out.records.filter((o) => versionOf(o) === V1).length}, ${ALT} ${r.out.records.filter((o) => versionOf(o) === ALT).length}`);
}

test('SIGHUP swaps to a new model mid-stream (0 lost, 0 duplicates), then a corrupt model is refused and the new one keeps serving', { timeout: 180_000 }, async (t) => {
  assert.notEqual(V1, ALT);
  await reloadRun('ops-reload', [], async (r) => {
    const { dir, out, e } = r;
    assert.equal(await e.metric('scorestream_model_info', { version: V1 }), 1);
    const stream = r.startInput();
    await until(() => out.records.length >= 100, 60_000, '100 outputs of the first model');

    install(ALT_DIR, dir);
    e.child.kill('SIGHUP');
    await until(async () => (await e.metric('scorestream_model_info', { version: ALT })) === 1, 60_000, 'model_info to show the new version');
    assert.equal(await e.metric('scorestream_model_info', { version: V1 }), 0);
    const swappedAt = out.records.length;
    await until(() => out.records.slice(swappedAt).filter((o) => versionOf(o) === ALT).length >= 100, 60_000, '100 outputs of the new model');

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

    await finishRun(t, r, stream);
    const versions = out.records.map(versionOf);
    assert.ok(versions.includes(V1) && versions.includes(ALT));
    assert.ok(out.records.slice(refusedAt).every((o) => versionOf(o) === ALT), 'after the refusal the new model keeps serving');
    assert.ok(out.records.every((o) => !(JSON.parse(o.value) as { fallback: boolean }).fallback));
    assert.match(e.stderr(), new RegExp(`"modelVersion":"${ALT}".*"msg":"model reloaded"`));
    // Logs at info level carry no event payloads.
    assert.ok(!/"p\d+"/.test(e.stderr()), 'a product id reached the logs');
  });
});

test('--watch-model: replacing the files reloads without a signal; no event lost or duplicated', { timeout: 180_000 }, async (t) => {
  await reloadRun('ops-watch', ['--watch-model'], async (r) => {
    const { dir, out, e } = r;
    const stream = r.startInput();
    await until(() => out.records.length >= 50, 60_000, '50 outputs of the first model');
    install(ALT_DIR, dir);
    await until(async () => (await e.metric('scorestream_model_info', { version: ALT })) === 1, 60_000, 'model_info to show the new version');
    const swappedAt = out.records.length;
    await until(() => out.records.slice(swappedAt).filter((o) => versionOf(o) === ALT).length >= 50, 60_000, '50 outputs of the new model');
    await finishRun(t, r, stream);
    assert.match(e.stderr(), /"trigger":"watch-model"/);
  });
});
