// Golden vectors through the Redis store (real Redis, the Lua script generated from each
// declared set): the same features Python computed (models/golden/, 1e-6 relative), one Lua
// call per batch; then the hashes hold the last applied event's features (read()).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { RedisFeatureStore } from '../../src/features/redis-feature-store.js';
import { MemoryFeatureStore } from '../../src/features/memory-feature-store.js';
import { replayThrough } from '../../src/features/offline-replay.js';
import { generateLua } from '../../src/features/feature-lua.js';
import { sharedRedis } from '../kit/redis-keys.js';
import { REDIS_URL } from '../kit/services.js';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, assertMatchesGolden, goldenEvents, goldenSets } from '../kit/golden.js';

const events = goldenEvents();
const sets = goldenSets();
const redis = sharedRedis();

describe('golden vectors, Redis store', () => {
  for (const g of sets) {
    for (const batch of [1, 64, 1000]) {
      test(`${g.name} (${g.set.width} features), batches of ${batch}`, { timeout: 30_000 }, async () => {
        const prefix = redis.prefix('ss-test-golden');
        const store = new RedisFeatureStore({ ttlSeconds: 3600, featureSet: g.set, url: REDIS_URL, keyPrefix: prefix, commandTimeoutMs: 5000, reconnect: { initialMs: 100, maxMs: 1000, multiplier: 2 } });
        await store.connect();
        try {
          assertMatchesGolden(g, await replayThrough(store, events, batch), `redis ${g.name}`);
          // Keys carry the set's hash; each holds 't', the features, extra state and guards.
          assert.ok(store.userKeyPrefix.startsWith(prefix + g.set.hash));
          const keys = await redis.client.keys(`${prefix}*`);
          assert.equal(keys.length, new Set(events.map((e) => e.user_id)).size);
          // read() equals the in-process store's final state, user by user.
          const mem = new MemoryFeatureStore({ ttlSeconds: 3600, featureSet: g.set });
          await replayThrough(mem, events, batch);
          for (const u of new Set(events.map((e) => e.user_id))) assert.deepEqual(await store.read(u), await mem.read(u), `read(${u})`);
          await mem.close();
        } finally {
          await store.close();
        }
      });
    }
  }

  test('parity command against the online store: equal, then one changed value fails', { timeout: 60_000 }, async () => {
    const g = sets.find((s) => s.name === 'golden')!;
    const prefix = redis.prefix('ss-test-parity');
    const store = new RedisFeatureStore({ ttlSeconds: 3600, featureSet: g.set, url: REDIS_URL, keyPrefix: prefix, commandTimeoutMs: 5000, reconnect: { initialMs: 100, maxMs: 1000, multiplier: 2 } });
    await store.connect();
    const tmp = mkdtempSync(join(tmpdir(), 'ss-parity-'));
    try {
      await replayThrough(store, events, 100);
      const meta = join(tmp, 'model.json');
      writeFileSync(meta, JSON.stringify({ feature_names: g.set.names, features: JSON.parse(readFileSync(join(ROOT, 'models/golden/features.json'), 'utf8')) }));
      const run = () => spawnSync(process.execPath, ['--import', 'tsx', 'scripts/feature-parity.ts', '--events', join(ROOT, 'models/golden/events.ndjson'), '--redis', REDIS_URL, '--prefix', prefix, '--model-meta', meta], { cwd: ROOT, encoding: 'utf8' });
      const ok = run();
      assert.equal(ok.status, 0, ok.stdout + ok.stderr);
      assert.match(ok.stdout, /^OK: 12 users/m);
      // 'session' is the 12th unnamed feature: the 12th double of the packed state.
      const packed = (await redis.client.hgetBuffer(store.userKeyPrefix + 'u3', 's'))!;
      packed.writeDoubleLE(999, 8 * g.set.names.indexOf('session'));
      await redis.client.hset(store.userKeyPrefix + 'u3', 's', packed);
      const bad = run();
      assert.equal(bad.status, 1, bad.stdout + bad.stderr);
      assert.match(bad.stdout, /^MISMATCH user "u3" \(after their last event\) session: offline \d+, online 999$/m);
    } finally {
      await store.close();
      rmSync(tmp, { recursive: true, force: true });
    }
  });

  test('the generated script escapes categories and is one Lua call per batch', () => {
    const g = sets.find((s) => s.name === 'golden')!;
    const lua = generateLua(g.set);
    assert.match(lua, /caf\\195\\169 \\34quoted\\34/);
    assert.match(lua, /back\\92slash/);
    assert.equal(lua.match(/redis\.call\('HMGET'/g)?.length, 1);
  });
});
