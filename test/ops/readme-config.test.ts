// The README's configuration table is generated from the config schema; this fails when they drift.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { SETTINGS, markdownTable } from '../../src/config/config.js';
import { Metrics } from '../../src/ops/metrics.js';
import { README, tableIn, withTable } from '../../scripts/gen-config-table.js';

test('README configuration table equals markdownTable() (regenerate: node --import tsx scripts/gen-config-table.ts)', { timeout: 10_000 }, () => {
  const readme = readFileSync(README, 'utf8');
  const table = tableIn(readme);
  assert.ok(table !== null, 'README.md lacks the config-table markers');
  assert.equal(table, markdownTable());
  // Regenerating is a no-op on a README that is up to date.
  assert.equal(withTable(readme), readme);
});

test('the table lists every setting, one row each, with its env name and flag', { timeout: 10_000 }, () => {
  const rows = markdownTable().split('\n').slice(2);
  assert.equal(rows.length, Object.keys(SETTINGS).length);
  for (const s of Object.values(SETTINGS)) assert.equal(rows.filter((r) => r.startsWith(`| \`${s.env}\` |`)).length, 1, s.env);
  // Five cells per row: no unescaped pipe splits one.
  for (const r of rows) assert.equal(r.split(/(?<!\\)\|/).length - 2, 5, r);
});

test('the README metrics table lists every scorestream_ series the engine exports, and no others', { timeout: 10_000 }, async () => {
  const readme = readFileSync(README, 'utf8');
  const exported = (await new Metrics().registry.getMetricsAsJSON()).map((m) => m.name).filter((n) => !n.startsWith('scorestream_process_') && !n.startsWith('scorestream_nodejs_'));
  const documented = [...readme.matchAll(/^\| `(scorestream_[a-z_]+)[`{]/gm)].map((m) => m[1]);
  assert.deepEqual([...documented].sort(), [...exported].sort());
});
