// Counters that outgrow float32: the store keeps counts exactly (the in-process store in JS
// numbers, Redis with HINCRBY integers), but the features handed to the lanes and the model are
// float32 (as ONNX models take them), so above 2^24 = 16,777,216 a count reaches the model
// rounded to the nearest float32 (steps of 2 up to 2^25, of 4 up to 2^26, ...). Documented in
// the README (Models). The cold-start vector seeds the counts near 2^24 so no 16 M events are needed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EVENT_TYPE_CODE } from '../../src/ingest/event.js';
import { newFeatureBatch } from '../../src/features/feature-store.js';
import { MemoryFeatureStore } from '../../src/features/memory-feature-store.js';

const T0 = Date.UTC(2026, 0, 1);
const LIMIT = 2 ** 24;

test('counts past 2^24 keep counting; they reach the model as the nearest float32 (never off by more than its spacing)', { timeout: 10_000 }, async () => {
  const start = LIMIT - 3;
  const store = new MemoryFeatureStore({ ttlSeconds: 3600, coldStart: [start, 0, 0, 1440], gapCapMinutes: 1440 }, () => T0);
  try {
    const n = 12;
    const b = newFeatureBatch(n);
    for (let i = 0; i < n; i++) {
      b.userIds[i] = 'big';
      b.codes[i] = EVENT_TYPE_CODE.view;
      b.timestamps[i] = T0 + i * 1000;
      b.sources[i] = 'in:0';
      b.offsets[i] = i;
      // The feature-set store also reads each event's category.
      if ('categories' in b) (b as unknown as { categories: string[] }).categories[i] = 'books';
    }
    const { features, replayed } = await store.updateAndRead(b);
    const width = features.length / n;
    let prev = -Infinity;
    for (let i = 0; i < n; i++) {
      assert.equal(replayed[i], 0);
      const exact = start + i + 1;
      const seen = features[i * width];
      assert.equal(seen, Math.fround(exact), `views ${exact}`);
      // float32 spacing is 2 in [2^24, 2^25): off by at most 1, and never decreasing.
      assert.ok(Math.abs(seen - exact) <= (exact < LIMIT ? 0 : 1), `views ${exact} seen as ${seen}`);
      assert.ok(seen >= prev);
      prev = seen;
    }
    assert.equal(features[(LIMIT + 1 - start - 1) * width], LIMIT, '2^24 + 1 reaches the model as 2^24');
    // The count itself keeps counting (a float32 accumulator would stick at 2^24, since
    // 2^24 + 1 rounds back to 2^24); read() reports it exactly or as float32 like the features.
    const held = (await store.read('big'))?.[0];
    assert.ok(held === start + n || held === Math.fround(start + n), `read ${held}`);
    assert.ok(prev > LIMIT);
  } finally {
    await store.close();
  }
});
