// Feature-store style use of the real Redis: one hash per entity with EXPIRE
// on the whole hash, and keys that really disappear when their TTL runs out.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { REDIS_URL, assertServicesReachable, uniqueName } from '../kit/services.js';

let redis: Redis;

before(async () => {
  await assertServicesReachable();
  redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await redis.connect();
});

after(async () => {
  await redis?.quit();
});

test('a hash with EXPIRE reads back intact with a TTL in range', async () => {
  const key = uniqueName('infra:features:user');
  const features = { txCount1h: '7', amountSum1h: '1234.5', lastSeenTs: '1700000000000', country: 'DE' };
  try {
    const [[hsetErr], [expireErr]] = (await redis.multi().hset(key, features).expire(key, 120).exec()) ?? [];
    assert.equal(hsetErr, null);
    assert.equal(expireErr, null);

    assert.deepEqual(await redis.hgetall(key), features);
    assert.deepEqual(await redis.hmget(key, 'txCount1h', 'country', 'missing'), ['7', 'DE', null]);
    const ttl = await redis.ttl(key);
    assert.ok(ttl > 110 && ttl <= 120, `TTL ${ttl} s should be within (110, 120]`);
  } finally {
    await redis.del(key);
  }
});

test('a key with a 1 s TTL is gone once it expires', async () => {
  const key = uniqueName('infra:short-lived');
  assert.equal(await redis.set(key, 'v', 'EX', 1), 'OK');
  assert.equal(await redis.get(key), 'v');
  const pttl = await redis.pttl(key);
  assert.ok(pttl > 0 && pttl <= 1000, `PTTL ${pttl} ms should be within (0, 1000]`);

  await sleep(1_200);
  assert.equal(await redis.get(key), null);
  assert.equal(await redis.exists(key), 0);
  assert.equal(await redis.ttl(key), -2, 'TTL of a missing key is -2');
});
