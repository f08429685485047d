// The same scripted histories through MemoryFeatureStore and RedisFeatureStore (real Redis):
// exact counters and minutes_since_prev, the replay guard, TTL, read(), cold start.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { EVENT_TYPE_CODE, type EventType } from '../../src/ingest/event.js';
import { guardField, newFeatureBatch, type FeatureStore, type FeatureStoreOptions } from '../../src/features/feature-store.js';
import { MemoryFeatureStore } from '../../src/features/memory-feature-store.js';
import { RedisFeatureStore } from '../../src/features/redis-feature-store.js';
import { sharedRedis } from '../kit/redis-keys.js';
import { REDIS_URL } from '../kit/services.js';

const T0 = Date.UTC(2026, 0, 1);
const MIN = 60_000;
const TTL = 3600;

interface Ev {
  user: string;
  type: EventType;
  ts: number;
  source: string;
  offset: number;
  /** Features after the event: views, carts, purchases, minutes_since_prev; and whether it was a replay. */
  expect: [number, number, number, number];
  replayed?: boolean;
}

const ev = (user: string, type: EventType, ts: number, source: string, offset: number, expect: Ev['expect'], replayed = false): Ev => ({ user, type, ts, source, offset, expect, replayed });

/** Batches in order. Offsets per source increase as Kafka would deliver them, except for replays. */
const HISTORY: Ev[][] = [
  [
    ev('alice', 'view', T0, 'in:0', 0, [1, 0, 0, 1440]),
    ev('bob', 'view', T0 + 1000, 'in:0', 1, [1, 0, 0, 1440]),
    // Same user several times inside one batch: each sees the previous one's update.
    ev('alice', 'view', T0 + 1.5 * MIN, 'in:0', 2, [2, 0, 0, 1.5]),
    ev('alice', 'add_to_cart', T0 + 2 * MIN, 'in:0', 3, [2, 1, 0, 0.5]),
  ],
  [
    ev('alice', 'purchase', T0 + 2 * MIN + 20_000, 'in:0', 4, [2, 1, 1, 20_000 / MIN]),
    // A gap of more than 24 h clamps to 1440 minutes.
    ev('bob', 'view', T0 + 1000 + 25 * 60 * MIN, 'in:0', 5, [2, 0, 0, 1440]),
    ev('carol', 'purchase', T0, 'in:0', 6, [0, 0, 1, 1440]),
    // Out of order in event time: gap 0, and the last-event time does not move backwards...
    ev('carol', 'view', T0 - MIN, 'in:0', 7, [1, 0, 1, 0]),
    // ...so the next gap is measured from T0, not from T0 - 1 min.
    ev('carol', 'view', T0 + 30_000, 'in:0', 8, [2, 0, 1, 0.5]),
  ],
  [
    // Replays: the same offset again, and older offsets, change nothing and return stored features.
    ev('alice', 'view', T0 + 10 * MIN, 'in:0', 4, [2, 1, 1, 20_000 / MIN], true),
    ev('alice', 'purchase', T0 + 11 * MIN, 'in:0', 2, [2, 1, 1, 20_000 / MIN], true),
    ev('bob', 'view', T0 + 99 * MIN, 'in:0', 5, [2, 0, 0, 1440], true),
    // Another partition has its own guard: offset 0 there is new.
    ev('alice', 'view', T0 + 3 * MIN + 20_000, 'in:1', 0, [3, 1, 1, 1]),
    ev('alice', 'view', T0 + 3 * MIN + 20_000, 'in:1', 0, [3, 1, 1, 1], true),
    ev('alice', 'add_to_cart', T0 + 5 * MIN + 20_000, 'in:0', 9, [3, 2, 1, 2]),
    ev('dave', 'add_to_cart', T0, 'in:1', 1, [0, 1, 0, 1440]),
    // Another topic with the same partition number is another guard too.
    ev('dave', 'view', T0 + 6 * MIN, 'other:1', 0, [1, 1, 0, 6]),
  ],
];

/** Only replays: must leave every hash exactly as it was. */
const REPLAYS_ONLY: Ev[] = [
  ev('alice', 'purchase', T0 + 20 * MIN, 'in:0', 9, [3, 2, 1, 2], true),
  ev('alice', 'purchase', T0 + 20 * MIN, 'in:1', 0, [3, 2, 1, 2], true),
  ev('carol', 'purchase', T0 + 20 * MIN, 'in:0', 0, [2, 0, 1, 0.5], true),
  ev('dave', 'view', T0 + 20 * MIN, 'other:1', 0, [1, 1, 0, 6], true),
];

const FINAL: Record<string, [number, number, number, number]> = {
  alice: [3, 2, 1, 2],
  bob: [2, 0, 0, 1440],
  carol: [2, 0, 1, 0.5],
  dave: [1, 1, 0, 6],
};

function toBatch(events: Ev[]) {
  const b = newFeatureBatch(events.length);
  events.forEach((e, i) => {
    b.userIds[i] = e.user;
    b.codes[i] = EVENT_TYPE_CODE[e.type];
    b.categories[i] = 'c';
    b.timestamps[i] = e.ts;
    b.sources[i] = e.source;
    b.offsets[i] = e.offset;
  });
  return b;
}

/** Runs a batch and checks every event's features (as float32) and replay flag. Returns the raw result. */
async function runChecked(store: FeatureStore, events: Ev[], label: string): Promise<number[]> {
  const r = await store.updateAndRead(toBatch(events));
  const W = store.featureSet.width;
  assert.equal(W, 4);
  assert.equal(r.features.length, events.length * W);
  assert.equal(r.replayed.length, events.length);
  events.forEach((e, i) => {
    const got = Array.from(r.features.subarray(i * W, (i + 1) * W));
    assert.deepEqual(got, e.expect.map(Math.fround), `${store.kind} ${label} event ${i} (${e.user} ${e.type} ${e.source}@${e.offset})`);
    assert.equal(r.replayed[i], e.replayed ? 1 : 0, `${store.kind} ${label} event ${i} replayed flag`);
  });
  return [...Array.from(r.features), ...Array.from(r.replayed)];
}

const redis = sharedRedis();

function storePair(opts: Partial<FeatureStoreOptions> = {}, now?: () => number): { mem: MemoryFeatureStore; red: RedisFeatureStore; prefix: string } {
  const o: FeatureStoreOptions = { ttlSeconds: TTL, coldStart: [0, 0, 0, 1440], gapCapMinutes: 1440, ...opts };
  const prefix = redis.prefix('ss-test-fs');
  const mem = new MemoryFeatureStore(o, now);
  const red = new RedisFeatureStore({
    ...o,
    url: REDIS_URL,
    keyPrefix: prefix,
    commandTimeoutMs: 5000,
    reconnect: { initialMs: 100, maxMs: 1000, multiplier: 2 },
  });
  // Keys carry the feature set's hash after the configured prefix.
  return { mem, red, prefix: red.userKeyPrefix };
}

describe('scripted history, memory and Redis alike', () => {
  test('exact features, replay guard, TTL, read()', { timeout: 30_000 }, async () => {
    const { mem, red, prefix } = storePair();
    await red.connect();
    assert.equal(red.available, true);
    try {
      const results: Record<string, number[][]> = { memory: [], redis: [] };
      for (const store of [mem, red] as FeatureStore[]) {
        for (const [i, batch] of HISTORY.entries()) results[store.kind].push(await runChecked(store, batch, `batch ${i}`));
      }
      assert.deepEqual(results.redis, results.memory, 'both stores give identical results');

      // The hash as stored in Redis.
      const alice = await redis.client.hgetall(prefix + 'alice');
      assert.equal(alice.v, '3');
      assert.equal(alice.c, '2');
      assert.equal(alice.p, '1');
      assert.equal(Number(alice.t), T0 + 5 * MIN + 20_000);
      assert.equal(Number(alice.g), 2);
      assert.equal(alice[guardField('in:0')], '9');
      assert.equal(alice[guardField('in:1')], '0');
      const carol = await redis.client.hgetall(prefix + 'carol');
      assert.equal(Number(carol.t), T0 + 30_000, 'last-event time never moved backwards');

      // TTL on every hash, within the configured bound.
      for (const user of Object.keys(FINAL)) {
        const ttl = await redis.client.ttl(prefix + user);
        assert.ok(ttl > 0 && ttl <= TTL, `TTL of ${user} is ${ttl}`);
      }

      // A batch of replays only leaves every hash byte-for-byte unchanged.
      const before = await Promise.all(Object.keys(FINAL).map((u) => redis.client.hgetall(prefix + u)));
      const replayResults: number[][] = [];
      for (const store of [mem, red] as FeatureStore[]) replayResults.push(await runChecked(store, REPLAYS_ONLY, 'replays'));
      assert.deepEqual(replayResults[1], replayResults[0]);
      const afterReplays = await Promise.all(Object.keys(FINAL).map((u) => redis.client.hgetall(prefix + u)));
      assert.deepEqual(afterReplays, before);

      // read() returns what was stored, without changing it.
      for (const store of [mem, red] as FeatureStore[]) {
        for (const [user, f] of Object.entries(FINAL)) {
          assert.deepEqual(await store.read(user), f.map(Math.fround), `${store.kind} read(${user})`);
          assert.deepEqual(await store.read(user), f.map(Math.fround), `${store.kind} read(${user}) again`);
        }
        assert.equal(await store.read('nobody'), null, `${store.kind} read of an unknown user`);
        await store.ping();
      }
    } finally {
      await mem.close();
      await red.close();
    }
  });

  test('a custom cold-start vector', { timeout: 30_000 }, async () => {
    const { mem, red } = storePair({ coldStart: [5, 1, 0, 30] });
    await red.connect();
    try {
      const script: Ev[] = [
        ev('erin', 'view', T0, 'in:0', 10, [6, 1, 0, 30]),
        ev('frank', 'purchase', T0, 'in:0', 11, [5, 1, 1, 30]),
        ev('erin', 'add_to_cart', T0 + 3 * MIN, 'in:0', 12, [6, 2, 0, 3]),
        ev('erin', 'view', T0 + 4 * MIN, 'in:0', 10, [6, 2, 0, 3], true),
      ];
      const r = [];
      for (const store of [mem, red] as FeatureStore[]) r.push(await runChecked(store, script, 'cold start'));
      assert.deepEqual(r[1], r[0]);
    } finally {
      await mem.close();
      await red.close();
    }
  });

  test('a gap cap other than 1440', { timeout: 30_000 }, async () => {
    const { mem, red } = storePair({ gapCapMinutes: 60 });
    await red.connect();
    try {
      const script: Ev[] = [
        ev('gina', 'view', T0, 'in:0', 0, [1, 0, 0, 1440]),
        ev('gina', 'view', T0 + 90 * MIN, 'in:0', 1, [2, 0, 0, 60]),
        ev('gina', 'view', T0 + 90 * MIN + 7, 'in:0', 2, [3, 0, 0, 7 / MIN]),
      ];
      for (const store of [mem, red] as FeatureStore[]) await runChecked(store, script, 'cap 60');
    } finally {
      await mem.close();
      await red.close();
    }
  });

  test('an expired user starts again from cold start', { timeout: 30_000 }, async () => {
    let now = Date.now();
    const { mem, red, prefix } = storePair({ ttlSeconds: 1 }, () => now);
    await red.connect();
    try {
      for (const store of [mem, red] as FeatureStore[]) {
        await runChecked(store, [ev('hank', 'view', T0, 'in:0', 0, [1, 0, 0, 1440]), ev('hank', 'view', T0 + MIN, 'in:0', 1, [2, 0, 0, 1])], 'before expiry');
      }
      const ttl = await redis.client.pttl(prefix + 'hank');
      assert.ok(ttl > 0 && ttl <= 1000, `PTTL ${ttl}`);
      now += 1500;
      // Wait for Redis's TTL to run out too (the key is gone once its TTL has passed).
      for (let i = 0; i < 50 && (await redis.client.exists(prefix + 'hank')); i++) await sleep(100);
      for (const store of [mem, red] as FeatureStore[]) {
        assert.equal(await store.read('hank'), null, `${store.kind}: expired`);
        // The guard went with the hash: the next event (even an old offset) counts from cold start.
        await runChecked(store, [ev('hank', 'view', T0 + 2 * MIN, 'in:0', 1, [1, 0, 0, 1440])], 'after expiry');
      }
    } finally {
      await mem.close();
      await red.close();
    }
  });

  test('an empty batch', { timeout: 30_000 }, async () => {
    const { mem, red } = storePair();
    await red.connect();
    try {
      for (const store of [mem, red] as FeatureStore[]) {
        const r = await store.updateAndRead(newFeatureBatch(0));
        assert.equal(r.features.length, 0);
        assert.equal(r.replayed.length, 0);
      }
    } finally {
      await mem.close();
      await red.close();
    }
  });
});
