// laneOf: a user's lane depends only on its id and the lane count, across calls and processes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { laneOf } from '../../src/lanes/lane-router.js';

const T = { timeout: 10_000 };

test('pinned values: a change of hash function is caught', T, () => {
  // FNV-1a 32-bit reference vectors (ASCII, so UTF-16 code units = bytes).
  assert.equal(laneOf('', 2 ** 32), 0x811c9dc5);
  assert.equal(laneOf('a', 2 ** 32), 0xe40c292c);
  assert.equal(laneOf('foobar', 2 ** 32), 0xbf9cf968);
  // Lanes the engine has been assigning; changing them moves users between lanes.
  const pinned: [string, number, number][] = [
    ['u1', 8, 3],
    ['user-42', 8, 3],
    ['', 8, 5],
    ['alice', 8, 7],
    ['bob', 8, 4],
    ['Ω-user', 8, 0],
    ['u-000123', 8, 3],
    ['alice', 3, 2],
    ['u-000123', 3, 1],
    ['Ω-user', 1000003, 965072],
  ];
  for (const [id, n, lane] of pinned) assert.equal(laneOf(id, n), lane, `laneOf(${JSON.stringify(id)}, ${n})`);
});

test('stable: the same id maps to the same lane on every call', T, () => {
  for (let i = 0; i < 1000; i++) {
    const id = `user-${i * 7919}`;
    const first = laneOf(id, 6);
    for (let k = 0; k < 3; k++) assert.equal(laneOf(id, 6), first);
  }
});

test('every lane index is within [0, N)', T, () => {
  for (const n of [1, 2, 3, 7, 16, 256]) {
    for (let i = 0; i < 2000; i++) {
      const lane = laneOf(`u${i}-${n}`, n);
      assert.ok(Number.isInteger(lane) && lane >= 0 && lane < n, `laneOf(u${i}, ${n}) = ${lane}`);
    }
  }
});

test('roughly balanced over 10k ids', T, () => {
  for (const n of [2, 4, 8]) {
    const counts = new Array<number>(n).fill(0);
    for (let i = 0; i < 10_000; i++) counts[laneOf(`user-${i}`, n)]++;
    const expected = 10_000 / n;
    for (const c of counts) {
      assert.ok(c > expected * 0.8 && c < expected * 1.2, `lane counts ${counts} for ${n} lanes are not within ±20% of ${expected}`);
    }
  }
});
