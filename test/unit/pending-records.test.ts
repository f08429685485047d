// PendingRecords: the exactly-once output of one input partition not yet known committed, shared
// by both clients' transactions (what a failed or unknown-outcome transaction leaves behind).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PendingRecords } from '../../src/output/pending-records.js';
import type { OutputRecord } from '../../src/output/sink.js';

const rec = (key: string): OutputRecord => ({ topic: 'out', key, value: `v-${key}` });
const entry = (offset: number, ...keys: string[]) => ({ topic: 'in', partition: 0, offset, payloads: keys.map(rec) });
const keys = (p: PendingRecords) => p.records.map((r) => r.key);

test('staged records wait, oldest first, with the highest offset; a committed transaction clears them', () => {
  const p = new PendingRecords();
  assert.equal(p.pending, false);
  p.stage(entry(3, 'a', 'b'));
  p.stage(entry(5, 'c'));
  assert.deepEqual([keys(p), p.offset, p.pending], [['a', 'b', 'c'], 5, true]);
  const sent = p.begin();
  assert.deepEqual([sent.records.map((r) => r.key), sent.offset, p.beganOffset], [['a', 'b', 'c'], 5, 5]);
  assert.equal(p.committed(), 3);
  assert.deepEqual([keys(p), p.offset, p.pending], [[], -1, false]);
});

test('a failed transaction leaves everything pending; the next one carries it first', () => {
  const p = new PendingRecords();
  p.stage(entry(2, 'a'));
  p.begin(); // fails: nothing else happens
  p.stage(entry(4, 'b'));
  assert.deepEqual(p.begin().records.map((r) => r.key), ['a', 'b']);
  assert.equal(p.committed(), 2);
  assert.equal(p.pending, false);
});

test('a transaction found committed later (unknown outcome): only what it carried is dropped, what was staged after it stays', () => {
  const p = new PendingRecords();
  p.stage(entry(2, 'a', 'b'));
  p.begin(); // its commit reply is lost
  p.stage(entry(4, 'c'));
  assert.equal(p.committed(), 2);
  assert.deepEqual([keys(p), p.offset, p.pending], [['c'], 4, true]);
});

test('an offset that moved on with no records is still pending (committed with the next transaction)', () => {
  const p = new PendingRecords();
  p.stage(entry(2, 'a'));
  p.begin();
  p.stage(entry(3));
  assert.equal(p.committed(), 1);
  assert.deepEqual([keys(p), p.offset, p.pending], [[], 3, true]);
  assert.equal(p.committed(), 0, 'nothing begun since');
});
