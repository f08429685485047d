// Fetch sizing follows the arrival rate: a fetch returns on the first record at low rates, waits
// for a batch (up to the configured pair) at high rates, and long-polls for 1 byte when idle.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FetchSizing } from '../../src/kafka/fetch-sizing.js';

const policy = { busy: { minBytes: 65536, maxWaitMs: 5 }, idleMaxWaitMs: 500 };

/** Feeds `seconds` of fetches of `recordsPerFetch` 150-byte records, one every `intervalMs`. */
function run(s: FetchSizing, recordsPerFetch: number, intervalMs: number, seconds = 1, start = 0): number {
  let t = start;
  for (; t < start + seconds * 1000; t += intervalMs) s.fetched(recordsPerFetch, recordsPerFetch * 150, t);
  return t;
}

test('before any traffic is measured a fetch returns on the first byte, with the busy wait', () => {
  assert.deepEqual(new FetchSizing(policy, 0).next(), { minBytes: 1, maxWaitMs: 5 });
});

test('the wait a fetch is sized for grows with the rate, capped by the busy pair', () => {
  const at = (eventsPerS: number) => {
    const s = new FetchSizing(policy, 0);
    run(s, eventsPerS / 1000, 1); // eventsPerS/1000 records every millisecond
    return s.next();
  };
  // ¼ ms of wait per record/ms: 1,000/s waits for 38 bytes (the first record), 4,000/s for 1 ms
  // (600 bytes, 4 records), 10,000/s for 2.5 ms (3,750 bytes)
  assert.equal(at(1000).minBytes, 38);
  assert.equal(at(4000).minBytes, 600);
  assert.equal(at(10_000).minBytes, 3750);
  // 20,000/s and up: the busy wait's worth, 5 ms; never more than busy.minBytes
  assert.equal(at(20_000).minBytes, 15_000);
  assert.equal(at(40_000).minBytes, 30_000);
  assert.equal(at(200_000).minBytes, 65_536);
  for (const r of [1000, 20_000]) assert.equal(at(r).maxWaitMs, 5);
});

test('a fetch that brought nothing switches to the idle long poll; the next records switch back', () => {
  const s = new FetchSizing(policy, 0);
  const t = run(s, 20, 1); // 20,000/s
  s.fetched(0, 0, t + 1);
  assert.deepEqual(s.next(), { minBytes: 1, maxWaitMs: 500 });
  s.fetched(3, 450, t + 400);
  assert.equal(s.next().maxWaitMs, 5);
  // The window that spanned the quiet spell measured a low rate: the first fetches after it return at once.
  assert.ok(s.next().minBytes < 1000, `after idle: ${s.next().minBytes}`);
});

test('an explicit minBytes of 1 stays 1 at every rate', () => {
  const s = new FetchSizing({ busy: { minBytes: 1, maxWaitMs: 5 }, idleMaxWaitMs: 500 }, 0);
  run(s, 50, 1);
  assert.equal(s.next().minBytes, 1);
});
