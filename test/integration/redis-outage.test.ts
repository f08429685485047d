// Redis dies under a steady input: the engine keeps scoring with the fallback prediction and
// does not exit; Redis returns on the same port: scoring from features resumes. Nothing lost.
// Uses its own redis-server on a free port (the shared one on 6379 is never touched).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { endOffsets } from '../kit/audit.js';
import { withEngineScenario } from '../kit/engine-scenario.js';
import { RateProducer, connectProducer } from '../kit/produce.js';
import { RedisServer } from '../kit/redis-server.js';
import { createScenario } from '../kit/scenario.js';

const RATE = 500;

let redis: RedisServer | null = null;
let load: RateProducer | null = null;
const run = withEngineScenario({ stopFirst: () => load?.stop(), releaseLast: () => redis?.destroy() });

test('Redis killed under load → fallback 0.5 and no exit; Redis back → features again; nothing lost', { timeout: 120_000 }, async (t) => {
  redis = await RedisServer.create();
  await redis.start();
  const sc = await createScenario('redis-outage', 4, redis.url);
  const { reader, engine } = await run.start(sc, { WORKERS: '2' });

  const producer = await connectProducer();
  load = new RateProducer(sc.input, producer, {
    rate: RATE,
    partitions: sc.partitions,
    make: (i, at) => ({ user_id: `u${i % 200}`, product_id: `p${i % 97}`, category: 'c', event_type: i % 7 === 0 ? 'add_to_cart' : 'view', timestamp_ms: at }),
  });
  load.start();
  const preds = reader.predictions;
  const fallbacks = () => preds.filter((p) => p.value.fallback).length;

  // Healthy: predictions from features.
  await reader.waitFor(() => preds.length >= 500, 30_000, '500 predictions before the outage');
  assert.equal(fallbacks(), 0, 'no fallback while Redis is up');

  // Outage.
  await redis.kill();
  const killedAt = Date.now();
  await reader.waitFor(() => fallbacks() >= 300, 30_000, '300 fallback predictions after Redis died');
  const fb1 = await engine.metric('scorestream_fallbacks_total', { reason: 'feature_store' });
  await reader.waitFor(() => fallbacks() >= 800, 30_000, '500 more fallback predictions');
  const fb2 = await engine.metric('scorestream_fallbacks_total', { reason: 'feature_store' });
  t.diagnostic(`fallbacks_total ${fb1} → ${fb2}; first fallback read ${preds.find((p) => p.value.fallback)!.readAt - killedAt} ms after the kill`);
  assert.ok(fb1 > 0 && fb2 > fb1, `scorestream_fallbacks_total grows during the outage (${fb1} → ${fb2})`);
  assert.equal(engine.child.exitCode, null, 'engine still running');
  for (const p of preds) if (p.value.fallback) assert.equal(p.value.prediction, 0.5);

  // Redis back on the same port (empty: users start from cold again).
  await redis.start();
  const backAt = Date.now();
  // "Recovered": 300 consecutive outputs (in read order) from features after the restart.
  let streak = 0;
  let seen = preds.length;
  await reader.waitFor(() => {
    for (; seen < preds.length; seen++) streak = preds[seen].value.fallback ? 0 : streak + 1;
    return streak >= 300;
  }, 60_000, 'outputs from features again after Redis returned');
  const firstBack = preds.findIndex((p) => p.readAt >= backAt && !p.value.fallback);
  t.diagnostic(`first prediction from features read ${preds[firstBack].readAt - backAt} ms after Redis returned`);
  assert.equal(engine.child.exitCode, null, 'engine still running');

  await load.stop();
  await producer.disconnect();
  const sent = load.sent.length;
  load = null;
  const ends = await endOffsets(sc.input);
  assert.equal([...ends.values()].reduce((a, b) => a + b, 0), sent);
  const r = await run.drain(t, ends, 60_000);
  t.diagnostic(`${sent} events at ${RATE}/s; ${fallbacks()} fallbacks`);
  assert.equal(r.lost.length, 0, 'no event lost');
  assert.equal(r.duplicates.length, 0);
  assert.equal(r.dlq, 0);
  assert.equal(r.outOfOrder.length, 0, 'per-user order holds through the outage');
  for (const p of preds) assert.ok(p.value.fallback ? p.value.prediction === 0.5 : p.value.prediction >= 0 && p.value.prediction <= 1);

  await run.stop();
});
