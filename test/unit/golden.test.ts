// Golden vectors through the in-process store: the TypeScript arithmetic of every feature kind
// gives the features Python computed (models/golden/, tolerance 1e-6 relative), in any batching.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryFeatureStore } from '../../src/features/memory-feature-store.js';
import { replayThrough } from '../../src/features/offline-replay.js';
import { assertMatchesGolden, goldenEvents, goldenSets } from '../kit/golden.js';

const events = goldenEvents();
const sets = goldenSets();

describe('golden vectors, in-process store', () => {
  test('the log has the edge cases it is meant to have', () => {
    assert.ok(events.length >= 300);
    const replays = sets[0].rows.filter((r) => r.r === 1).length;
    assert.ok(replays >= 20, `${replays} replays`);
    assert.ok(new Set(events.map((e) => e.source)).size >= 3);
    assert.deepEqual(sets.map((s) => s.name).sort(), ['clickstream-26', 'default', 'golden']);
    const kinds = new Set(sets.flatMap((s) => s.set.features.map((f) => f.kind)));
    assert.equal(kinds.size, 9, 'every kind is covered');
  });

  for (const g of sets) {
    for (const batch of [1, 7, 64, 1000]) {
      test(`${g.name} (${g.set.width} features), batches of ${batch}`, async () => {
        const store = new MemoryFeatureStore({ ttlSeconds: 86_400, featureSet: g.set });
        try {
          assertMatchesGolden(g, await replayThrough(store, events, batch), `memory ${g.name}`);
        } finally {
          await store.close();
        }
      });
    }
  }
});
