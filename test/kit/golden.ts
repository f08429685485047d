// The golden vectors of models/golden/ (written by models/golden/generate.py from
// models/features.py): the event log, and per declared set the features after every event.
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { parseFeatureSet, type FeatureSet } from '../../src/features/feature-set.js';
import { closeEnough, parseEventLog, type LoggedEvent, type ReplayRows } from '../../src/features/offline-replay.js';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const DIR = join(ROOT, 'models/golden');

export interface GoldenSet {
  name: string;
  set: FeatureSet;
  rows: { f: number[]; r: number }[];
}

export function goldenEvents(): LoggedEvent[] {
  return parseEventLog(readFileSync(join(DIR, 'events.ndjson'), 'utf8'));
}

export function goldenSets(): GoldenSet[] {
  return readdirSync(DIR)
    .filter((f) => /^expected-.*\.json$/.test(f))
    .sort()
    .map((f) => {
      const exp = JSON.parse(readFileSync(join(DIR, f), 'utf8')) as { declaration: string; feature_names: string[]; rows: GoldenSet['rows'] };
      const declPath = join(ROOT, exp.declaration);
      const set = parseFeatureSet(JSON.parse(readFileSync(declPath, 'utf8')), declPath);
      assert.deepEqual(set.names, exp.feature_names, `${f}: feature names`);
      return { name: f.slice('expected-'.length, -'.json'.length), set, rows: exp.rows };
    });
}

/** Every feature of every event within 1e-6 relative of the golden row, and the same replay flags. */
export function assertMatchesGolden(g: GoldenSet, got: ReplayRows, what: string): void {
  const w = g.set.width;
  assert.equal(got.replayed.length, g.rows.length, `${what}: rows`);
  let checked = 0;
  for (let i = 0; i < g.rows.length; i++) {
    assert.equal(got.replayed[i], g.rows[i].r, `${what}: event ${i} replayed flag`);
    for (let k = 0; k < w; k++) {
      const a = got.features[i * w + k];
      const b = g.rows[i].f[k];
      assert.ok(closeEnough(a, b), `${what}: event ${i} feature ${g.set.names[k]}: got ${a}, golden ${b}`);
      checked++;
    }
  }
  assert.equal(checked, g.rows.length * w);
}

/**
 * The features of `events` (each with source/offset) as models/features.py computes them: the
 * Python definition, independent of the engine's TypeScript and Lua. `declaration`: a model.json
 * or a declaration file.
 */
export function pythonFeatures(declaration: string, events: readonly object[]): number[][] {
  const script = [
    'import json, sys',
    `sys.path.insert(0, ${JSON.stringify(join(ROOT, 'models'))})`,
    'from features import FeatureSet, replay',
    'fs = FeatureSet.load(sys.argv[1])',
    'events = [json.loads(l) for l in sys.stdin if l.strip()]',
    'print(json.dumps([r["features"] for r in replay(fs, events)]))',
  ].join('\n');
  const r = spawnSync('python3', ['-c', script, declaration], { input: events.map((e) => JSON.stringify(e)).join('\n'), encoding: 'utf8', maxBuffer: 256 << 20 });
  assert.equal(r.status, 0, `python3 features.py: ${r.error?.message ?? r.stderr}`);
  return JSON.parse(r.stdout) as number[][];
}
