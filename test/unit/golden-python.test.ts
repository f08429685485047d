// The Python side of the golden vectors (models/test_features.py, standard library only): run
// here so npm test (and .ci/run) checks all three computations of the features.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { ROOT } from '../kit/golden.js';

test('models/features.py reproduces the golden vectors (python3 -m unittest)', { timeout: 60_000 }, () => {
  const r = spawnSync('python3', ['-m', 'unittest', 'discover', '-s', 'models', '-p', 'test_*.py', '-v'], { cwd: ROOT, encoding: 'utf8' });
  assert.equal(r.error, undefined, `python3 not runnable: ${r.error?.message}`);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /^OK$/m);
  assert.match(r.stderr, /test_committed_rows .* ok/);
});
