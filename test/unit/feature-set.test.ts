// Declarations: each invalid form is a FeatureSetError naming the feature and the file; valid
// ones get defaults, a width and a hash that changes with the declaration; a model.json from
// before declarations implies the default four features.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { featureSetOfMeta, legacyFeatureSet, parseFeatureSet } from '../../src/features/feature-set.js';
import { FeatureSetError } from '../../src/shared/errors.js';

const F = 'x/model.json';
const bad = (decl: unknown, re: RegExp) => {
  assert.throws(() => parseFeatureSet(decl, F), (e: unknown) => e instanceof FeatureSetError && e.file === F && re.test(e.message), String(re));
};

describe('parseFeatureSet', () => {
  test('invalid declarations name feature and file', () => {
    bad([], /^feature set in x\/model\.json: "features" must be a non-empty array/);
    bad([{ name: 'a', kind: 'nope' }], /feature 'a' \(#0\): unknown kind "nope"/);
    bad([{ kind: 'count' }], /feature #0: "name" must match/);
    bad([{ name: 'a', kind: 'count' }, { name: 'a', kind: 'count' }], /feature 'a' \(#1\): duplicate name/);
    bad([{ name: 'a', kind: 'count', half_life_minutes: 5 }], /unknown parameter "half_life_minutes" for kind count/);
    bad([{ name: 'a', kind: 'count', event_type: 'click' }], /"event_type" "click" is not one of view\|add_to_cart\|purchase/);
    bad([{ name: 'a', kind: 'decayed_count' }], /"half_life_minutes" is required/);
    bad([{ name: 'a', kind: 'decayed_count', half_life_minutes: 0 }], /"half_life_minutes" must be a number > 0/);
    bad([{ name: 'a', kind: 'since_prev', cap_minutes: 'x' }], /"cap_minutes" must be a number/);
    bad([{ name: 'a', kind: 'distinct_categories', categories: [] }], /"categories" must be a non-empty string or list/);
    bad([{ name: 'a', kind: 'distinct_categories', categories: Array.from({ length: 51 }, (_, i) => `c${i}`) }], /at most 50/);
    bad([{ name: 'a', kind: 'category_is' }], /exactly one of "category"/);
    bad([{ name: 'a', kind: 'category_is', category: 'x', not_in: ['y'] }], /exactly one of "category"/);
    bad([{ name: 'a', kind: 'event_type_is', event_type: ['view', 'purchase'] }], /must be one event type/);
    bad([{ name: 'a', kind: 'hour_of_day', fn: 'tan' }], /"fn" must be "sin" or "cos"/);
    bad([{ name: 'a', kind: 'count', cold_start: 'zero' }], /"cold_start" must be a number/);
    bad([{ name: 'a', kind: 'count', field: 't' }], /hash field "t" is reserved/);
    bad([{ name: 'a', kind: 'count', field: 'v' }, { name: 'b', kind: 'count', field: 'v' }], /feature 'b' \(#1\): hash field "v" is reserved or already used/);
  });

  test('defaults, width, cold starts, hash', () => {
    const s = parseFeatureSet([{ name: 'a', kind: 'count' }, { name: 'b', kind: 'since_last', event_type: 'purchase' }, { name: 'c', kind: 'session_events' }], F);
    assert.equal(s.width, 3);
    assert.deepEqual(s.coldStart, [0, 1440, 0]);
    assert.equal(s.features[1].capMinutes, 1440);
    assert.equal(s.features[2].gapMinutes, 30);
    assert.match(s.hash, /^[0-9a-f]{8}$/);
    const t = parseFeatureSet([{ name: 'a', kind: 'count' }, { name: 'b', kind: 'since_last', event_type: 'purchase', cap_minutes: 60 }, { name: 'c', kind: 'session_events' }], F);
    assert.notEqual(t.hash, s.hash);
    assert.equal(parseFeatureSet([{ kind: 'count', name: 'a' }, { name: 'b', kind: 'since_last', event_type: ['purchase'] }, { name: 'c', kind: 'session_events', gap_minutes: 30 }], F).hash, s.hash, 'same normalised declaration, same hash');
  });

  test('model.json: feature_names and cold_start must match; an old model.json implies the default four', () => {
    const decl = [{ name: 'a', kind: 'count' }];
    assert.throws(() => featureSetOfMeta({ feature_names: ['b'], features: decl }, F), /"feature_names" \["b"\] must list the 1 declared features in order \(a\)/);
    assert.throws(() => featureSetOfMeta({ feature_names: ['a'], features: decl, cold_start: [3] }, F), /"cold_start" \[3\] differs/);
    const legacy = featureSetOfMeta({ feature_names: ['views', 'cart_adds', 'purchases', 'minutes_since_prev'], cold_start: [0, 0, 0, 60] }, F);
    assert.deepEqual(legacy.coldStart, [0, 0, 0, 60]);
    assert.equal(legacy.hash, legacyFeatureSet([0, 0, 0, 60]).hash);
    assert.throws(() => featureSetOfMeta({ feature_names: ['x'] }, F), /"features" must be a non-empty array/);
  });
});
