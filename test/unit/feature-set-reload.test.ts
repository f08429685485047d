// A hot reload to a model that declares other features (models/gbt-26, 26 features) is refused by
// the lanes with a ModelLoadError naming the file, and the running model keeps serving: stored
// state belongs to the running feature set, so changing it needs a restart. sameFeatureSet (the
// main thread's check) agrees.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { LanePool } from '../../src/lanes/lane-pool.js';
import { ModelLoadError } from '../../src/shared/errors.js';
import { loadFeatureSet, sameFeatureSet } from '../../src/features/feature-set.js';
import { ROOT } from '../kit/golden.js';

const MODEL = join(ROOT, 'models/model.onnx');
const META = join(ROOT, 'models/model.json');
const HEAVY = join(ROOT, 'models/gbt-26/model.onnx');
const HEAVY_META = join(ROOT, 'models/gbt-26/model.json');
const ALT_META = join(ROOT, 'models/fixtures/alt/model.json');
const VERSION = (JSON.parse(readFileSync(META, 'utf8')) as { model_version: string }).model_version;
let pool: LanePool<unknown>;

before(async () => {
  pool = new LanePool<unknown>(
    { workers: 1, modelPath: MODEL, metaPath: META, maxBatch: 16, maxWaitUs: 0, restartBackoff: { initialMs: 20, maxMs: 200, multiplier: 2 }, maxRestarts: 10, restartWindowMs: 60_000 },
    { onResult: () => {}, onRestart: () => {}, onFatal: () => {} },
  );
  await pool.start();
});
after(async () => {
  await pool?.close();
});

test('reload to other declared features is refused; the running model keeps serving', { timeout: 60_000 }, async () => {
  const r = await pool.reload(HEAVY, HEAVY_META);
  assert.equal(r.ok, false);
  assert.ok(!r.ok && r.error instanceof ModelLoadError && r.error.path === HEAVY, `names the file: ${!r.ok && r.error.message}`);
  assert.match(!r.ok ? r.error.message : '', /declares other features \(views, cart_adds, .*\) than the running model \(views, cart_adds, purchases, minutes_since_prev\); changing the feature set needs a restart/);
  assert.equal(pool.modelVersion, VERSION);
});

test('sameFeatureSet: equal for the default and alt models, different for gbt-26', () => {
  assert.equal(sameFeatureSet(loadFeatureSet(META), loadFeatureSet(ALT_META)), true);
  assert.equal(sameFeatureSet(loadFeatureSet(META), loadFeatureSet(HEAVY_META)), false);
});
