// The 26-feature model (models/gbt-26) through the real broker and Redis: every event scored
// once, and each prediction equal to the model on the features Python computes for the event
// (models/features.py, independent of the engine's TypeScript and Lua), user by user; the Redis
// hashes (under the set's own key prefix) hold the features of each user's last event.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ModelSession } from '../../workers/model-session.js';
import { loadFeatureSet } from '../../src/features/feature-set.js';
import { RedisFeatureStore } from '../../src/features/redis-feature-store.js';
import { endOffsets } from '../kit/audit.js';
import { assertOncePerOffset, withEngineScenario } from '../kit/engine-scenario.js';
import { rng, type EventType, type TestEvent } from '../kit/events.js';
import { ROOT, pythonFeatures } from '../kit/golden.js';
import { modelOnOracle } from '../kit/model-oracle.js';
import { produceEvents } from '../kit/produce.js';
import { createScenario } from '../kit/scenario.js';
import { REDIS_URL } from '../kit/services.js';

const MODEL = join(ROOT, 'models/gbt-26/model.onnx');
const META_PATH = join(ROOT, 'models/gbt-26/model.json');
const META = JSON.parse(readFileSync(META_PATH, 'utf8')) as { model_version: string };
const CATEGORIES = ['books', 'electronics', 'fashion', 'home', 'toys', 'sports', 'garden', 'ünknown "c"'];
const TYPES: EventType[] = ['view', 'view', 'view', 'view', 'view', 'view', 'view', 'add_to_cart', 'add_to_cart', 'purchase'];

let model: ModelSession;
const run = withEngineScenario({
  setup: async () => {
    model = await ModelSession.load(MODEL, META_PATH);
  },
  releaseLast: () => model?.release(),
});

test('heavy model: every event scored once, predictions = model on Python-computed features', { timeout: 180_000 }, async (t) => {
  assert.equal(model.width, 26);
  const sc = await createScenario('heavy', 4);
  // 150 users, ~25 s apart overall: a user's gaps range from seconds to hours (sessions, decays).
  const r = rng(26);
  const events: TestEvent[] = [];
  let ts = Date.now() - 12 * 3600_000;
  for (let i = 0; i < 1500; i++) {
    ts += Math.floor(r() * 50_000);
    events.push({ user_id: `h${Math.floor(r() * r() * 150)}`, product_id: `p${i}`, category: CATEGORIES[Math.floor(r() * CATEGORIES.length)], event_type: TYPES[Math.floor(r() * TYPES.length)], timestamp_ms: ts });
  }
  const produced = await produceEvents(sc.input, events, { partitions: 4, batchSize: 200 });
  const rows = pythonFeatures(META_PATH, produced.map((e) => ({ ...e, source: `${sc.input}:${e.partition}`, offset: e.offset })));
  const want = new Map(produced.map((e, i) => [`${e.partition}:${e.offset}`, rows[i]]));
  const ends = await endOffsets(sc.input);

  const { reader } = await run.start(sc, { WORKERS: '2', MODEL_PATH: MODEL });
  assertOncePerOffset(await run.drain(t, ends, 120_000), events.length);

  const { rows: served, scores } = await modelOnOracle(model, reader.predictions, want);
  let checked = 0;
  reader.predictions.forEach((p, i) => {
    assert.equal(p.value.fallback, false);
    assert.equal(p.value.model_version, META.model_version);
    assert.ok(Math.abs(p.value.prediction - scores[i]) < 1e-6, `${p.value.user_id} @${p.source.partition}:${p.source.offset}: prediction ${p.value.prediction}, model on [${served.subarray(i * 26, (i + 1) * 26).join(', ')}] gives ${scores[i]}`);
    checked++;
  });
  assert.equal(checked, events.length);
  // Not all predictions alike: the features reach the model.
  assert.ok(new Set(reader.predictions.map((p) => p.value.prediction.toFixed(4))).size > 50);

  // Redis, under REDIS_KEY_PREFIX + the 26-feature set's hash: each user's last event's features.
  const set = loadFeatureSet(META_PATH);
  const store = new RedisFeatureStore({ ttlSeconds: 86_400, featureSet: set, url: REDIS_URL, keyPrefix: sc.redisKeyPrefix, commandTimeoutMs: 5000, reconnect: { initialMs: 100, maxMs: 1000, multiplier: 2 } });
  await store.connect();
  try {
    const lastOf = new Map<string, number[]>();
    produced.forEach((e, i) => lastOf.set(e.user_id, rows[i]));
    for (const [user, f] of lastOf) {
      const got = await store.read(user);
      assert.ok(got, `${user}: no hash under ${store.userKeyPrefix}`);
      got.forEach((v, k) => assert.ok(Math.abs(v - Math.fround(f[k])) <= 1e-6 * Math.max(1, Math.abs(f[k])), `${user} ${set.names[k]}: redis ${v}, python ${f[k]}`));
    }
  } finally {
    await store.close();
  }

  await run.stop();
});
