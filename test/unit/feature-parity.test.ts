// The parity command (scripts/feature-parity.ts) through its CLI: the golden log against served
// rows equal to the golden features passes (exit 0); one wrong value, or a missing row, fails
// (exit 1) and names the event, user and feature; bad usage is exit 2.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from '../kit/golden.js';

const EVENTS = join(ROOT, 'models/golden/events.ndjson');
const golden = JSON.parse(readFileSync(join(ROOT, 'models/golden/expected-clickstream-26.json'), 'utf8')) as { rows: { f: number[] }[] };
let tmp: string;
let meta: string;

function run(args: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/feature-parity.ts', ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, out }));
  });
}

before(() => {
  tmp = mkdtempSync(join(tmpdir(), 'ss-parity-'));
  // A model.json declaring the 26-feature set (the command needs only the declaration).
  const decl = JSON.parse(readFileSync(join(ROOT, 'models/feature-sets/clickstream-26.json'), 'utf8')) as { name: string }[];
  meta = join(tmp, 'model.json');
  writeFileSync(meta, JSON.stringify({ feature_names: decl.map((d) => d.name), features: decl }));
});
after(() => rmSync(tmp, { recursive: true, force: true }));

describe('feature-parity CLI', () => {
  test('served rows equal to the offline replay: exit 0', { timeout: 60_000 }, async () => {
    const served = join(tmp, 'ok.ndjson');
    writeFileSync(served, golden.rows.map((r) => JSON.stringify({ features: r.f })).join('\n') + '\n');
    const r = await run(['--events', EVENTS, '--served', served, '--model-meta', meta]);
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /^OK: 320 events x 26 features .*: 0 mismatching values/m);
  });

  test('one wrong value and a missing row: exit 1, the first mismatches named', { timeout: 60_000 }, async () => {
    const rows = golden.rows.map((r) => [...r.f]);
    rows[17][13] += 0.5; // minutes_since_cart_add of event 17
    rows.pop();
    const served = join(tmp, 'bad.ndjson');
    writeFileSync(served, rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
    const r = await run(['--events', EVENTS, '--served', served, '--model-meta', meta, '--show', '3']);
    assert.equal(r.code, 1, r.out);
    const lines = r.out.trim().split('\n').filter((l) => l.startsWith('MISMATCH'));
    assert.equal(lines.length, 3);
    assert.match(lines[0], /^MISMATCH event 17 \(user ".*", .*@\d+\) minutes_since_cart_add: offline [\d.]+, online [\d.]+$/);
    assert.match(lines[1], /^MISMATCH event 319 .* views: offline \d+, online missing$/);
    assert.match(r.out, /^FAIL: 320 events x 26 features .*: 27 mismatching values in 2 events$/m);
  });

  test('bad usage and a bad declaration: exit 2', { timeout: 60_000 }, async () => {
    assert.equal((await run(['--events', EVENTS])).code, 2);
    const broken = join(tmp, 'broken.json');
    writeFileSync(broken, JSON.stringify({ feature_names: ['x'], features: [{ name: 'x', kind: 'nope' }] }));
    const r = await run(['--events', EVENTS, '--served', EVENTS, '--model-meta', broken]);
    assert.equal(r.code, 2);
    assert.match(r.out, /feature 'x' \(#0\): unknown kind "nope"/);
  });
});
