// A model's feature declaration through the real CLI (embedded mode): an unknown kind or a bad
// parameter is one stderr line naming the feature and the file, exit 2, before any worker
// starts; a declared width that does not match the model's input is one line, exit 1.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli as runMain, type CliResult } from '../kit/cli.js';
import { ROOT } from '../kit/golden.js';

let tmp: string;
const meta = JSON.parse(readFileSync(join(ROOT, 'models/model.json'), 'utf8')) as Record<string, unknown> & { features: Record<string, unknown>[] };

function runCli(metaPath: string, modelPath = join(tmp, 'model.onnx'), events = 10): Promise<CliResult> {
  return runMain(['--model-path', modelPath, '--model-meta-path', metaPath, '--generator-events', String(events), '--metrics-port', '0', '--workers', '1'], {}, 60_000);
}

function writeMeta(name: string, edit: (m: typeof meta) => void): string {
  const m = structuredClone(meta);
  edit(m);
  const p = join(tmp, name);
  writeFileSync(p, JSON.stringify(m, null, 2));
  return p;
}

/** The one line the operator reads (logs are JSON lines; the error line is plain text). */
function errorLines(stderr: string): string[] {
  return stderr.split('\n').filter((l) => l.startsWith('scorestream: '));
}

before(() => {
  tmp = mkdtempSync(join(tmpdir(), 'ss-decl-'));
  copyFileSync(join(ROOT, 'models/model.onnx'), join(tmp, 'model.onnx'));
});
after(() => rmSync(tmp, { recursive: true, force: true }));

describe('feature declaration errors through the CLI', () => {
  test('unknown kind: exit 2, one line naming feature and file', { timeout: 90_000 }, async () => {
    const p = writeMeta('unknown-kind.json', (m) => (m.features[1] = { name: 'cart_adds', kind: 'cart_counter' }));
    const r = await runCli(p);
    assert.equal(r.code, 2, r.stderr);
    assert.equal(r.stdout, '');
    assert.deepEqual(errorLines(r.stderr), [`scorestream: feature set in ${p}: feature 'cart_adds' (#1): unknown kind "cart_counter" (allowed: count, decayed_count, since_prev, since_last, session_events, distinct_categories, event_type_is, category_is, hour_of_day)`]);
  });

  test('bad parameter: exit 2', { timeout: 90_000 }, async () => {
    const p = writeMeta('bad-param.json', (m) => (m.features[3] = { name: 'minutes_since_prev', kind: 'since_prev', cap_minutes: -5, field: 'g', cold_start: 1440 }));
    const r = await runCli(p);
    assert.equal(r.code, 2, r.stderr);
    assert.deepEqual(errorLines(r.stderr), [`scorestream: feature set in ${p}: feature 'minutes_since_prev' (#3): "cap_minutes" must be a number >= 0, got -5`]);
  });

  test('declared width differs from the model input: exit 1 naming the model file', { timeout: 90_000 }, async () => {
    const p = writeMeta('five.json', (m) => {
      m.features.push({ name: 'is_view', kind: 'event_type_is', event_type: 'view' });
      m.feature_names = m.features.map((f) => f.name);
      m.cold_start = [0, 0, 0, 1440, 0];
    });
    const r = await runCli(p);
    assert.equal(r.code, 1, r.stderr);
    const lines = errorLines(r.stderr);
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0], /^scorestream: model .*model\.onnx: takes 4 features per row but model\.json declares 5 \(views, cart_adds, purchases, minutes_since_prev, is_view\)$/);
  });

  test('the 26-feature model runs in embedded mode (--model-path models/gbt-26/model.onnx)', { timeout: 90_000 }, async () => {
    const meta26 = JSON.parse(readFileSync(join(ROOT, 'models/gbt-26/model.json'), 'utf8')) as { model_version: string };
    const r = await runCli(join(ROOT, 'models/gbt-26/model.json'), join(ROOT, 'models/gbt-26/model.onnx'), 200);
    assert.equal(r.code, 0, r.stderr);
    const preds = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { model_version: string; fallback: boolean; prediction: number });
    assert.equal(preds.length, 200);
    assert.ok(preds.every((p) => p.model_version === meta26.model_version && !p.fallback && p.prediction >= 0 && p.prediction <= 1));
    assert.deepEqual(errorLines(r.stderr), []);
  });
});
