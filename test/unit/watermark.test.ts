// Watermarks: max event time seen (capped at the wall clock) - outOfOrderness - allowedLateness.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Watermark } from '../../src/partitions/watermark.js';

/** One Watermark per partition key, as each Partition object owns its own. */
class Watermarks {
  private readonly byKey = new Map<string, Watermark>();
  constructor(private readonly ooo: number, private readonly late: number) {}
  check(key: string, ts: number, now: number): number {
    let w = this.byKey.get(key);
    if (!w) this.byKey.set(key, (w = new Watermark(this.ooo, this.late)));
    return w.check(ts, now);
  }
  forget(key: string): void {
    this.byKey.delete(key);
  }
}

const T = { timeout: 10_000 };
const OOO = 10_000;
const LATE = 60_000;
const NOW = Date.UTC(2026, 0, 1);

test('an in-order stream is never late', T, () => {
  const w = new Watermarks(OOO, LATE);
  for (let i = 0; i < 10_000; i++) {
    const ts = NOW - 3_600_000 + i * 100;
    assert.equal(w.check('p0', ts, NOW), -1, `event ${i}`);
  }
});

test('out of order within outOfOrderness + allowedLateness is on time; older is late', T, () => {
  const w = new Watermarks(OOO, LATE);
  const max = NOW - 5_000;
  assert.equal(w.check('p0', max, NOW), -1);
  const wm = max - OOO;
  assert.equal(w.check('p0', wm - LATE, NOW), -1, 'exactly at the bound is on time');
  assert.equal(w.check('p0', max - 1, NOW), -1);
  assert.equal(w.check('p0', wm - LATE - 1, NOW), wm, 'one ms past the bound is late, against the watermark');
  // A late event does not move the watermark.
  assert.equal(w.check('p0', wm - LATE, NOW), -1);
});

test('a later event advances the watermark; an older on-time one does not lower it', T, () => {
  const w = new Watermarks(OOO, LATE);
  w.check('p0', NOW - 200_000, NOW);
  assert.equal(w.check('p0', NOW - 100_000, NOW), -1);
  assert.equal(w.check('p0', NOW - 150_000, NOW), -1, 'within 70 s of max');
  const wm = NOW - 100_000 - OOO;
  assert.equal(w.check('p0', wm - LATE - 1, NOW), wm);
});

test('a future-stamped event cannot push the watermark past the wall clock', T, () => {
  const w = new Watermarks(OOO, LATE);
  w.check('p0', NOW - 1_000, NOW);
  assert.equal(w.check('p0', NOW + 3_600_000, NOW), -1, 'the future event itself is not late');
  // Without the cap everything older than now + 1 h - 70 s would be late.
  assert.equal(w.check('p0', NOW - 1_000, NOW), -1);
  assert.equal(w.check('p0', NOW - OOO - LATE, NOW), -1);
  assert.equal(w.check('p0', NOW - OOO - LATE - 1, NOW), NOW - OOO, 'late only against now - outOfOrderness');
  // As the wall clock moves on, the stored max applies again.
  const later = NOW + 7_200_000;
  assert.equal(w.check('p0', NOW + 3_600_000 - OOO - LATE - 1, later), NOW + 3_600_000 - OOO);
});

test('keys are independent, and forget() starts a key afresh', T, () => {
  const w = new Watermarks(OOO, LATE);
  w.check('p0', NOW, NOW);
  const old = NOW - OOO - LATE - 1;
  assert.equal(w.check('p1', old, NOW), -1, 'first event of another key is never late');
  assert.equal(w.check('p0', old, NOW), NOW - OOO);
  w.forget('p0');
  assert.equal(w.check('p0', old, NOW), -1, 'after forget the key has no watermark');
  assert.equal(w.check('p0', old - 1, NOW), -1);
});
