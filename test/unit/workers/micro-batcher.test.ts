// MicroBatcher: closes at maxBatch rows or after maxWait, one flush at a time, never splits or
// reorders items, drain() flushes everything.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { MicroBatcher } from '../../../workers/micro-batcher.js';

interface Item {
  id: number;
  rows: number;
}

const T = { timeout: 20_000 };

/** Records flushes. With `gated`, each flush stays in progress until release() is called. */
function recorder(flushDelayMs = 0, gated = false) {
  const batches: { ids: number[]; rows: number }[] = [];
  let active = 0;
  let maxActive = 0;
  let open: () => void = () => {};
  const flush = async (items: Item[], rows: number) => {
    active++;
    maxActive = Math.max(maxActive, active);
    assert.equal(rows, items.reduce((s, i) => s + i.rows, 0), 'rows is the sum of the items');
    batches.push({ ids: items.map((i) => i.id), rows });
    if (gated) await new Promise<void>((r) => (open = r));
    else if (flushDelayMs > 0) await sleep(flushDelayMs);
    else await Promise.resolve();
    active--;
  };
  return { batches, flush, maxActive: () => maxActive, release: () => open() };
}

async function until(cond: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(5);
  }
}

test('a batch closes as soon as it holds maxBatch rows, without waiting for maxWait', T, async () => {
  const r = recorder();
  // maxWait of 2 s: only the size bound can close the batch here. The flush starts
  // synchronously inside the add() that fills the batch, so no clock is involved.
  const b = new MicroBatcher<Item>({ maxBatch: 4, maxWaitUs: 2_000_000 }, r.flush);
  b.add({ id: 1, rows: 1 });
  await Promise.resolve();
  assert.equal(r.batches.length, 0, 'not full, not waited long enough');
  b.add({ id: 2, rows: 1 });
  assert.equal(r.batches.length, 0);
  b.add({ id: 3, rows: 2 });
  assert.deepEqual(r.batches, [{ ids: [1, 2, 3], rows: 4 }]);
  assert.equal(b.queuedRows, 0);
});

test('items added in one go close full batches in order; the remainder waits', T, async () => {
  const r = recorder();
  const b = new MicroBatcher<Item>({ maxBatch: 3, maxWaitUs: 2_000_000 }, r.flush);
  for (let i = 0; i < 10; i++) b.add({ id: i, rows: 1 });
  // Full batches follow each other as each flush finishes (microtasks, no timers).
  for (let k = 0; k < 20 && r.batches.length < 3; k++) await Promise.resolve();
  assert.deepEqual(r.batches.map((x) => x.ids), [[0, 1, 2], [3, 4, 5], [6, 7, 8]]);
  assert.equal(b.queuedRows, 1, 'the last item waits for company');
  await b.drain();
  assert.deepEqual(r.batches[3], { ids: [9], rows: 1 });
});

test('a batch that is not full closes after maxWait', T, async () => {
  const r = recorder();
  const b = new MicroBatcher<Item>({ maxBatch: 64, maxWaitUs: 30_000 }, r.flush);
  b.add({ id: 1, rows: 1 });
  b.add({ id: 2, rows: 3 });
  await until(() => r.batches.length === 1);
  assert.deepEqual(r.batches, [{ ids: [1, 2], rows: 4 }]);
  // Sub-millisecond and zero waits close too.
  for (const maxWaitUs of [0, 300]) {
    const r2 = recorder();
    const b2 = new MicroBatcher<Item>({ maxBatch: 64, maxWaitUs }, r2.flush);
    b2.add({ id: 7, rows: 1 });
    await until(() => r2.batches.length === 1);
    assert.deepEqual(r2.batches, [{ ids: [7], rows: 1 }]);
  }
});

test('one flush at a time; items arriving during a flush form the next batch', T, async () => {
  // Gated, not timed: a 50 ms flush was outlasted by five 2 ms sleeps on a loaded machine.
  const r = recorder(0, true);
  const b = new MicroBatcher<Item>({ maxBatch: 100, maxWaitUs: 0 }, r.flush);
  b.add({ id: 0, rows: 1 });
  await until(() => r.batches.length === 1);
  // The first flush is in progress until release(): these queue up behind it.
  for (let i = 1; i <= 5; i++) {
    b.add({ id: i, rows: 1 });
    await sleep(2);
  }
  assert.equal(r.batches.length, 1, 'no second flush while the first runs');
  r.release();
  await until(() => r.batches.length === 2);
  r.release();
  assert.deepEqual(r.batches[1], { ids: [1, 2, 3, 4, 5], rows: 5 });
  await b.drain();
  assert.equal(r.maxActive(), 1);
});

test('never splits or reorders items, whatever their sizes', T, async () => {
  const r = recorder(1);
  const b = new MicroBatcher<Item>({ maxBatch: 8, maxWaitUs: 200 }, r.flush);
  const sizes: number[] = [];
  let s = 99;
  for (let i = 0; i < 300; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    sizes.push(1 + (s % 5));
  }
  sizes[17] = 20; // bigger than maxBatch: goes alone, unsplit
  for (let i = 0; i < sizes.length; i++) {
    b.add({ id: i, rows: sizes[i] });
    if (i % 7 === 0) await sleep(1);
  }
  await b.drain();
  const flat = r.batches.flatMap((x) => x.ids);
  assert.deepEqual(flat, sizes.map((_, i) => i), 'every item exactly once, in order');
  for (const x of r.batches) {
    assert.ok(x.rows <= 8 || x.ids.length === 1, `batch ${x.ids} has ${x.rows} rows`);
  }
  assert.ok(r.batches.some((x) => x.ids.length === 1 && x.ids[0] === 17 && x.rows === 20));
  assert.equal(r.maxActive(), 1);
});

test('drain() resolves once everything added so far is flushed, and on an idle batcher', T, async () => {
  const r = recorder(10);
  const b = new MicroBatcher<Item>({ maxBatch: 1000, maxWaitUs: 2_000_000 }, r.flush);
  await b.drain();
  assert.equal(r.batches.length, 0);
  for (let i = 0; i < 5; i++) b.add({ id: i, rows: 1 });
  await b.drain();
  assert.deepEqual(r.batches, [{ ids: [0, 1, 2, 3, 4], rows: 5 }]);
  assert.equal(b.queuedRows, 0);
});
