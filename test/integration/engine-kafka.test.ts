// The engine as deployed: a separate process between the real Kafka broker and Redis.
// 20,000 events of 500 users over 4 partitions → exactly one prediction per input offset, in
// per-user input order, each equal to what the model gives for that event's features; then a
// SIGTERM drains, commits everything and exits 0.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import { ModelSession } from '../../workers/model-session.js';
import { committedOffsets, endOffsets } from '../kit/audit.js';
import { assertOncePerOffset, withEngineScenario } from '../kit/engine-scenario.js';
import { byUser, expectedFeatures, expectedFeaturesAt, generateEvents } from '../kit/events.js';
import { modelMismatches } from '../kit/model-oracle.js';
import { produceEvents, type ProducedEvent } from '../kit/produce.js';
import { createScenario } from '../kit/scenario.js';
import { REDIS_URL } from '../kit/services.js';

const EVENTS = 20_000;
const USERS = 500;
const PARTITIONS = 4;
const MODEL = 'models/model.onnx';
const META = JSON.parse(readFileSync('models/model.json', 'utf8')) as { model_version: string; cold_start: number[] };

let model: ModelSession;
let redis: Redis;
const run = withEngineScenario({
  setup: async () => {
    model = await ModelSession.load(MODEL, 'models/model.json');
    redis = new Redis(REDIS_URL);
  },
  releaseLast: async () => {
    await model?.release();
    redis?.disconnect();
  },
});

test('20,000 events → one prediction per input offset, in order, equal to the model on the Redis features; SIGTERM commits everything', { timeout: 120_000 }, async (t) => {
  const sc = await createScenario('e2e', PARTITIONS);
  const events = generateEvents({ count: EVENTS, users: USERS, startMs: Date.now() - 2 * 86_400_000, meanStepMs: 2000, seed: 7 });
  const produced = await produceEvents(sc.input, events, { partitions: PARTITIONS, batchSize: 1000 });
  const ends = await endOffsets(sc.input);
  assert.equal([...ends.values()].reduce((a, b) => a + b, 0), EVENTS);

  const { reader } = await run.start(sc, { WORKERS: '2' });
  const t0 = Date.now();
  await reader.waitForCoverage(ends, 60_000);
  t.diagnostic(`drained ${EVENTS} events in ${Date.now() - t0} ms after ready`);
  const r = await run.finish(t, ends);

  assertOncePerOffset(r, EVENTS);
  assert.equal(r.unexpected, 0);
  assert.equal(r.dlq, 0, 'valid, on-time events never reach a DLQ');

  // Every prediction: a probability from the served model, not a fallback.
  const at = new Map<string, ProducedEvent>(produced.map((e) => [`${e.partition}:${e.offset}`, e]));
  for (const p of reader.predictions) {
    const v = p.value;
    assert.ok(v.prediction >= 0 && v.prediction <= 1, `prediction ${v.prediction} in [0,1]`);
    assert.equal(v.fallback, false);
    assert.equal(v.model_version, META.model_version);
    const src = at.get(`${p.source.partition}:${p.source.offset}`);
    assert.ok(src, `prediction for an offset that was produced (${p.source.partition}:${p.source.offset})`);
    assert.equal(v.user_id, src.user_id);
    assert.equal(p.key, src.user_id);
    assert.equal(v.product_id, src.product_id);
    assert.equal(v.event_time, src.timestamp_ms);
  }

  // Each prediction equals the model on the features of its event, computed independently from
  // the user's event list (the oracle), for all 20,000.
  const expectedAt = expectedFeaturesAt(produced, META.cold_start);
  const users = byUser(produced);
  const { count: mismatches, first } = await modelMismatches(model, reader.predictions, expectedAt);
  assert.equal(mismatches, 0, `predictions equal to the model on the oracle's features (first mismatch: ${first})`);

  // Each user's last prediction equals the model on the features Redis holds for the user, and
  // those features are what the user's events add up to.
  const ids = [...users.keys()];
  const pipe = redis.pipeline();
  for (const u of ids) pipe.hgetall(sc.keyPrefix + u);
  const hashes = (await pipe.exec())!.map(([err, h]) => {
    assert.equal(err, null);
    return h as Record<string, string>;
  });
  const lastPred = new Map<string, number>();
  for (const p of reader.predictions) {
    const src = at.get(`${p.source.partition}:${p.source.offset}`)!;
    const evs = users.get(src.user_id)!;
    if (evs[evs.length - 1] === src) lastPred.set(src.user_id, p.value.prediction);
  }
  const finalRows = new Float32Array(ids.length * 4);
  ids.forEach((u, i) => {
    const h = hashes[i];
    const evs = users.get(u)!;
    const { final } = expectedFeatures(evs, META.cold_start);
    assert.deepEqual(
      { v: Number(h.v), c: Number(h.c), p: Number(h.p), t: Number(h.t), g: Number(h.g) },
      final,
      `Redis features of ${u}`,
    );
    const last = evs[evs.length - 1];
    assert.equal(Number(h[`o:${sc.input}:${last.partition}`]), last.offset, `replay guard of ${u} at its last offset`);
    finalRows.set([Number(h.v), Number(h.c), Number(h.p), Number(h.g)], i * 4);
  });
  const onHash = await model.score(finalRows, ids.length);
  ids.forEach((u, i) => assert.ok(Math.abs(lastPred.get(u)! - onHash[i]) < 1e-6, `${u}: last prediction ${lastPred.get(u)} vs model on its Redis hash ${onHash[i]}`));

  // Graceful stop: exit 0, and the group's committed offsets are the topic's end offsets.
  await run.stop();
  assert.deepEqual(await committedOffsets(sc.groupId, sc.input), ends);
});
