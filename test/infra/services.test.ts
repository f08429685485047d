// The reachability check every integration test starts with: it must pass
// against the running services and fail loudly, naming the service, the
// address and the fix, when a service is not there.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KAFKA_BROKERS, REDIS_URL, assertServicesReachable } from '../kit/services.js';

const DEAD_KAFKA = '127.0.0.1:1';
const DEAD_REDIS = 'redis://127.0.0.1:1';

test('succeeds against the real Kafka broker and Redis', async () => {
  await assertServicesReachable();
});

test('fails with a clear message when Kafka is not reachable', async () => {
  await assert.rejects(
    assertServicesReachable({ brokers: DEAD_KAFKA, redisUrl: REDIS_URL }),
    (err: unknown) => {
      assert.ok(err instanceof Error);
      assert.match(err.message, /^Kafka broker not reachable at 127\.0\.0\.1:1 — run `npm run infra:up`/);
      assert.doesNotMatch(err.message, /Redis/);
      return true;
    },
  );
});

test('fails with a clear message when Redis is not reachable', async () => {
  await assert.rejects(
    assertServicesReachable({ brokers: KAFKA_BROKERS, redisUrl: DEAD_REDIS }),
    (err: unknown) => {
      assert.ok(err instanceof Error);
      assert.match(err.message, /^Redis not reachable at redis:\/\/127\.0\.0\.1:1 — run `npm run infra:up`/);
      assert.doesNotMatch(err.message, /Kafka/);
      return true;
    },
  );
});

test('names both services when both are down, and fails fast', async () => {
  const started = Date.now();
  await assert.rejects(
    assertServicesReachable({ brokers: DEAD_KAFKA, redisUrl: DEAD_REDIS, timeoutMs: 2000 }),
    /Kafka broker not reachable at 127\.0\.0\.1:1 — run `npm run infra:up`.*; Redis not reachable at redis:\/\/127\.0\.0\.1:1 — run `npm run infra:up`/,
  );
  assert.ok(Date.now() - started < 2_500, 'gives up within the timeout');
});
