// The in-process feature store is bounded: MEMORY_STORE_MAX_USERS (least recently updated user
// dropped first) and the TTL (expired users dropped from the front, without a full scan), with
// scorestream_memory_store_users and scorestream_memory_store_evictions_total{reason}.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { BoundedUserMap, userMapTotals } from '../../src/features/bounded-user-map.js';
import { newFeatureBatch } from '../../src/features/feature-store.js';
import { MemoryFeatureStore } from '../../src/features/memory-feature-store.js';
import { EVENT_TYPE_CODE } from '../../src/ingest/event.js';
import { Metrics } from '../../src/ops/metrics.js';
import { metricValue } from '../kit/engine-process.js';

const T = { timeout: 10_000 };
const T0 = Date.UTC(2026, 0, 1);

describe('BoundedUserMap', () => {
  test('beyond maxUsers the least recently updated users go first; touch() keeps a user', T, () => {
    const m = new BoundedUserMap<{ expiresAt: number }>(3);
    try {
      const before = userMapTotals.evicted.capacity;
      for (const id of ['a', 'b', 'c']) m.set(id, { expiresAt: 10 });
      m.touch('a'); // now b, c, a
      m.set('d', { expiresAt: 10 });
      m.set('e', { expiresAt: 10 });
      assert.deepEqual([...m].map(([k]) => k), ['a', 'd', 'e']);
      assert.equal(m.size, 3);
      assert.equal(userMapTotals.evicted.capacity - before, 2);
    } finally {
      m.close();
    }
  });

  test('evictExpired drops expired users from the front and stops at the first live one', T, () => {
    const m = new BoundedUserMap<{ expiresAt: number }>();
    try {
      const before = userMapTotals.evicted.ttl;
      for (let i = 0; i < 10; i++) m.set(`u${i}`, { expiresAt: 100 + i });
      assert.equal(m.evictExpired(104), 5);
      assert.deepEqual([...m].map(([k]) => k), ['u5', 'u6', 'u7', 'u8', 'u9']);
      assert.equal(m.delete('u5', 'ttl'), true);
      assert.equal(userMapTotals.evicted.ttl - before, 6);
      assert.equal(m.evictExpired(0), 0);
    } finally {
      m.close();
    }
  });
});

function views(users: string[], offset0: number, ts: number) {
  const b = newFeatureBatch(users.length);
  users.forEach((u, i) => {
    b.userIds[i] = u;
    b.codes[i] = EVENT_TYPE_CODE.view;
    b.timestamps[i] = ts;
    b.sources[i] = 'in:0';
    b.offsets[i] = offset0 + i;
    if ('categories' in b) (b as unknown as { categories: string[] }).categories[i] = 'books';
  });
  return b;
}

describe('MemoryFeatureStore bounds', () => {
  test('MEMORY_STORE_MAX_USERS: holds at most that many users; a dropped user starts again from the cold start; metrics count it', T, async () => {
    const metrics = new Metrics();
    let now = T0;
    const store = new MemoryFeatureStore({ ttlSeconds: 3600, coldStart: [0, 0, 0, 1440], gapCapMinutes: 1440, maxUsers: 100 }, () => now);
    try {
      const ids = Array.from({ length: 1000 }, (_, i) => `cap-u${i}`);
      await store.updateAndRead(views(ids, 0, now));
      assert.equal(store.size, 100);
      assert.equal(await store.read('cap-u0'), null, 'the least recently updated users were dropped');
      assert.equal((await store.read('cap-u999'))?.[0], 1);
      // cap-u0 again: from the cold start (views 1), not 2.
      const r = await store.updateAndRead(views(['cap-u0'], 1000, now));
      assert.equal(r.features[0], 1);
      const text = await metrics.registry.metrics();
      assert.equal(metricValue(text, 'scorestream_memory_store_users'), 100);
      assert.equal(metricValue(text, 'scorestream_memory_store_evictions_total', { reason: 'capacity' }), 901);
      // TTL: an hour later every user has expired; the next access drops one, the sweep the rest.
      now += 3600_000;
      assert.equal(await store.read('cap-u999'), null);
      await store.updateAndRead(views(['cap-u999'], 1001, now));
      const t2 = await metrics.registry.metrics();
      assert.equal(metricValue(t2, 'scorestream_memory_store_evictions_total', { reason: 'ttl' }), 1);
    } finally {
      await store.close();
    }
    assert.equal(metricValue(await metrics.registry.metrics(), 'scorestream_memory_store_users'), 0, 'a closed store is not counted');
  });
});
