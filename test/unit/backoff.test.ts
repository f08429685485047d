// backoffDelay (exponential, equal jitter) and FailureRateLimiter (sliding window).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FailureRateLimiter, backoffDelay } from '../../src/shared/backoff.js';
import { mulberry32 } from '../../src/source/clickstream.js';

const T = { timeout: 10_000 };

/** mulberry32 (the generator's seeded PRNG): a failing case can be reproduced. */
const seeded = mulberry32;

test('backoffDelay lies between nominal/2 and nominal, capped at maxMs', T, () => {
  const opts = { initialMs: 100, maxMs: 5_000, multiplier: 2 };
  const rnd = seeded(42);
  for (let attempt = 0; attempt < 12; attempt++) {
    const nominal = Math.min(5_000, 100 * 2 ** attempt);
    for (let k = 0; k < 200; k++) {
      const d = backoffDelay(opts, attempt, rnd);
      assert.ok(d >= Math.floor(nominal / 2) && d <= nominal, `attempt ${attempt}: ${d} not in [${nominal / 2}, ${nominal}]`);
    }
  }
});

test('backoffDelay extremes of the random source', T, () => {
  const opts = { initialMs: 100, maxMs: 5_000, multiplier: 2 };
  assert.equal(backoffDelay(opts, 0, () => 0), 50);
  assert.equal(backoffDelay(opts, 0, () => 0.999999), 100);
  assert.equal(backoffDelay(opts, 3, () => 0), 400);
  assert.equal(backoffDelay(opts, 3, () => 0.5), 600);
  assert.equal(backoffDelay(opts, 30, () => 0), 2_500, 'capped: half of maxMs');
  assert.equal(backoffDelay(opts, 30, () => 0.999999), 5_000, 'capped at maxMs');
  assert.equal(backoffDelay(opts, -5, () => 0), 50, 'negative attempts count as the first');
});

test('backoffDelay: a seeded random gives the same sequence', T, () => {
  const opts = { initialMs: 10, maxMs: 1_000, multiplier: 3 };
  const a = seeded(7);
  const b = seeded(7);
  for (let i = 0; i < 8; i++) assert.equal(backoffDelay(opts, i, a), backoffDelay(opts, i, b));
});

test('FailureRateLimiter trips after maxFailures within the window', T, () => {
  let now = 1_000_000;
  const lim = new FailureRateLimiter(3, 10_000, () => now);
  assert.equal(lim.record(), false);
  now += 1_000;
  assert.equal(lim.record(), false);
  now += 1_000;
  assert.equal(lim.record(), false, '3 failures is the limit, not past it');
  now += 1_000;
  assert.equal(lim.record(), true, 'the 4th within 10 s trips');
});

test('FailureRateLimiter does not trip once old failures slide out of the window', T, () => {
  let now = 0;
  const lim = new FailureRateLimiter(3, 10_000, () => now);
  for (let i = 0; i < 3; i++) {
    assert.equal(lim.record(), false);
    now += 1_000; // failures at 0, 1000, 2000
  }
  now = 10_000; // the failure at 0 is exactly one window old: out
  assert.equal(lim.record(), false);
  now = 10_500;
  assert.equal(lim.record(), true, '1000, 2000, 10000, 10500: four within 10 s');
  // A steady rate below the limit never trips.
  const steady = new FailureRateLimiter(3, 10_000, () => now);
  for (let i = 0; i < 100; i++) {
    now += 3_400;
    assert.equal(steady.record(), false, `failure ${i}`);
  }
});
