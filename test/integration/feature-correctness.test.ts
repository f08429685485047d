// Scripted histories with known timestamps through the real engine, Kafka and Redis: the exact
// counters and minutes_since_prev in Redis, and each prediction equal to the model on the
// features the history implies (cold start, a gap over 24 h, events 1 ms and 0 ms apart).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import { ModelSession } from '../../workers/model-session.js';
import { endOffsets } from '../kit/audit.js';
import { assertOncePerOffset, withEngineScenario } from '../kit/engine-scenario.js';
import { byUser, type EventType, type TestEvent } from '../kit/events.js';
import { modelOnOracle } from '../kit/model-oracle.js';
import { produceEvents } from '../kit/produce.js';
import { createScenario } from '../kit/scenario.js';
import { REDIS_URL } from '../kit/services.js';

const META = JSON.parse(readFileSync('models/model.json', 'utf8')) as { model_version: string; cold_start: number[] };
const MIN = 60_000;
const HOUR = 60 * MIN;

let model: ModelSession;
let redis: Redis;
const run = withEngineScenario({
  setup: async () => {
    model = await ModelSession.load('models/model.onnx', 'models/model.json');
    redis = new Redis(REDIS_URL);
  },
  releaseLast: async () => {
    await model?.release();
    redis?.disconnect();
  },
});

interface Step {
  type: EventType;
  /** ms after the base time. */
  at: number;
  /** Features expected after this event: views, cart_adds, purchases, minutes_since_prev. */
  want: [number, number, number, number];
}

// Written out by hand from the rules (cold start [0,0,0,1440]; each event counts itself;
// minutes_since_prev = (ts - previous ts) / 60000 clamped to [0, 1440]), not computed.
const SCRIPTS: Record<string, Step[]> = {
  alice: [
    { type: 'view', at: 0, want: [1, 0, 0, 1440] },
    { type: 'view', at: 90_000, want: [2, 0, 0, 1.5] },
    { type: 'add_to_cart', at: 90_001, want: [2, 1, 0, 1 / 60_000] }, // 1 ms later
    { type: 'purchase', at: 90_001, want: [2, 1, 1, 0] }, // same millisecond
    { type: 'view', at: 90_001 + 26 * HOUR, want: [3, 1, 1, 1440] }, // 26 h gap, capped at 24 h
    { type: 'add_to_cart', at: 90_001 + 26 * HOUR + 45_000, want: [3, 2, 1, 0.75] },
  ],
  bob: [{ type: 'purchase', at: 10_000, want: [0, 0, 1, 1440] }], // one event: cold start
  carol: [
    { type: 'add_to_cart', at: 5_000, want: [0, 1, 0, 1440] },
    { type: 'view', at: 5_000 + 333_333, want: [1, 1, 0, 333_333 / 60_000] },
    { type: 'view', at: 5_000 + 333_333 + 23 * HOUR + 59 * MIN, want: [2, 1, 0, 1439] }, // just under the cap
    { type: 'view', at: 5_000 + 333_333 + 47 * HOUR + 59 * MIN + 1, want: [3, 1, 0, 1440] }, // 24 h + 1 ms: capped
  ],
  dave: [
    { type: 'view', at: 1_000, want: [1, 0, 0, 1440] },
    { type: 'view', at: 1_001, want: [2, 0, 0, 1 / 60_000] },
    { type: 'view', at: 1_002, want: [3, 0, 0, 1 / 60_000] },
    { type: 'purchase', at: 1_000 + 24 * HOUR, want: [3, 0, 1, (24 * HOUR - 2) / 60_000] }, // 2 ms short of the cap
  ],
};

test('scripted histories → exact Redis counters, minutes_since_prev and predictions', { timeout: 90_000 }, async (t) => {
  const sc = await createScenario('features', 4);
  const base = Math.floor((Date.now() - 3 * 86_400_000) / MIN) * MIN;
  const events: (TestEvent & { want: number[] })[] = [];
  for (const [name, steps] of Object.entries(SCRIPTS)) {
    for (const s of steps) events.push({ user_id: name, product_id: `p-${name}`, category: 'c', event_type: s.type, timestamp_ms: base + s.at, want: s.want });
  }
  // Time order across users (stable, so a user's equal-time events keep their order): the
  // engine's per-partition watermark then never sees a late event.
  events.sort((a, b) => a.timestamp_ms - b.timestamp_ms);
  const produced = await produceEvents(sc.input, events, { partitions: 4, batchSize: 100 });
  const want = new Map(produced.map((e, i) => [`${e.partition}:${e.offset}`, events[i].want]));
  const ends = await endOffsets(sc.input);

  const { reader } = await run.start(sc, { WORKERS: '2' });
  assertOncePerOffset(await run.drain(t, ends, 60_000), events.length);

  // Each prediction is the model on the hand-written features of its event.
  const { rows, scores } = await modelOnOracle(model, reader.predictions, want);
  reader.predictions.forEach((p, i) => {
    assert.equal(p.value.fallback, false);
    assert.equal(p.value.model_version, META.model_version);
    assert.ok(Math.abs(p.value.prediction - scores[i]) < 1e-6, `${p.value.user_id} @${p.source.offset}: prediction ${p.value.prediction}, model on [${rows.subarray(i * 4, i * 4 + 4).join(', ')}] gives ${scores[i]}`);
  });

  // Redis: exact counters, last event time, minutes_since_prev, replay guard and TTL.
  for (const [user, evs] of byUser(produced)) {
    const h = await redis.hgetall(sc.keyPrefix + user);
    const last = evs[evs.length - 1];
    const w = want.get(`${last.partition}:${last.offset}`)!;
    assert.deepEqual([Number(h.v), Number(h.c), Number(h.p)], w.slice(0, 3), `${user}: counters`);
    assert.equal(Number(h.t), last.timestamp_ms, `${user}: last event time`);
    assert.equal(Number(h.g), w[3], `${user}: minutes_since_prev`);
    assert.equal(Number(h[`o:${sc.input}:${last.partition}`]), last.offset, `${user}: replay guard`);
    const fields = Object.keys(h).sort();
    assert.deepEqual(fields, ['c', 'g', `o:${sc.input}:${last.partition}`, 'p', 't', 'v'].sort(), `${user}: hash fields`);
    const ttl = await redis.ttl(sc.keyPrefix + user);
    assert.ok(ttl > 86_000 && ttl <= 86_400, `${user}: TTL ${ttl} s (FEATURE_TTL_SECONDS default 24 h)`);
    // The last prediction equals the model on what Redis holds.
    const [onHash] = await model.score(Float32Array.from([Number(h.v), Number(h.c), Number(h.p), Number(h.g)]), 1);
    const lastPred = reader.predictions.find((p) => p.source.partition === last.partition && p.source.offset === last.offset)!;
    assert.ok(Math.abs(lastPred.value.prediction - onHash) < 1e-6, `${user}: last prediction on the Redis hash`);
  }

  await run.stop();
});
