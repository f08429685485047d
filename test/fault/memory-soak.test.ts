// Memory over time, the CI version of bench/soak.ts: 3 minutes of the embedded engine at
// 1,000 events/s over 50,000 Zipf-distributed users with MEMORY_STORE_MAX_USERS=5,000, so the
// in-process store fills within the first minute and then has to evict. After a 60 s warm-up the
// process must show no upward memory trend: RSS grows by less than RSS_SLOPE_BOUND MB/min (a leak
// of 200 bytes per event would be ~11 MB/min at this rate) and ends within END_BOUND MB of where
// it was after warm-up; the store never holds more than its bound.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatSoak, runSoak } from '../../bench/soak.js';

const MAX_USERS = 5_000;
const RSS_SLOPE_BOUND = 10; // MB per minute
const HEAP_SLOPE_BOUND = 5; // MB per minute
const END_BOUND = 30; // MB

test('embedded engine for 3 minutes with a bounded store: no upward memory trend', { timeout: 300_000 }, async () => {
  const r = await runSoak({ mode: 'embedded', minutes: 3, rate: 1_000, users: 50_000, maxUsers: MAX_USERS, snapshots: false, sampleEverySec: 5, warmupSec: 60, log: () => {} });
  console.log(formatSoak(r).replace(/^/gm, '# '));
  const series = r.samples.map((s) => `${s.t.toFixed(0)}s ${s.rssMb.toFixed(0)}MB/${s.heapUsedMb.toFixed(0)}MB/${s.storeUsers}`).join(' ');
  assert.ok(r.samples.every((s) => s.storeUsers <= MAX_USERS), series);
  assert.ok(r.evictions.capacity > 0, 'the store never reached its bound: the test did not exercise it');
  assert.ok(r.rssSlopeMbPerMin < RSS_SLOPE_BOUND, `RSS trend ${r.rssSlopeMbPerMin.toFixed(2)} MB/min: ${series}`);
  assert.ok(r.heapSlopeMbPerMin < HEAP_SLOPE_BOUND, `heap trend ${r.heapSlopeMbPerMin.toFixed(2)} MB/min: ${series}`);
  assert.ok(r.rssEndMb - r.rssWarmMb < END_BOUND, `RSS ${r.rssWarmMb.toFixed(0)} -> ${r.rssEndMb.toFixed(0)} MB: ${series}`);
  // The rate is the generator's, not asserted; a starved engine would make the test meaningless, so say it.
  assert.ok(r.samples[r.samples.length - 1].predictions > 60_000, `only ${r.samples[r.samples.length - 1].predictions} events scored`);
});
