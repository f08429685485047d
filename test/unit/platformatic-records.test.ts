// The @platformatic/kafka source's batch decoding: offsets, timestamps, control batches and the
// read_committed skip of aborted transactions, as the Java client does it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeBatches, type BatchLike } from '../../src/source/platformatic-records.js';
import type { RawRecord } from '../../src/source/source.js';

const TXN = 0x10;
const CONTROL = 0x20;
const LOG_APPEND = 0x08;

function batch(firstOffset: number, n: number, o: { producerId?: number; attributes?: number; ts?: number } = {}): BatchLike {
  return {
    firstOffset: BigInt(firstOffset),
    lastOffsetDelta: n - 1,
    attributes: o.attributes ?? 0,
    firstTimestamp: BigInt(o.ts ?? 1000),
    maxTimestamp: BigInt((o.ts ?? 1000) + 99),
    producerId: BigInt(o.producerId ?? -1),
    records: Array.from({ length: n }, (_, i) => ({ offsetDelta: i, timestampDelta: BigInt(i), key: Buffer.from(`k${firstOffset + i}`), value: Buffer.from(`v${firstOffset + i}`) })),
  };
}

/** A transaction marker batch: one control record, key = version 0, type 0 (abort) or 1 (commit). */
function marker(offset: number, producerId: number, abort: boolean): BatchLike {
  const key = Buffer.alloc(4);
  key.writeInt16BE(abort ? 0 : 1, 2);
  return { ...batch(offset, 1, { producerId, attributes: TXN | CONTROL }), records: [{ offsetDelta: 0, timestampDelta: 0n, key, value: Buffer.alloc(6) }] };
}

const decode = (batches: BatchLike[], aborted: { producerId: bigint; firstOffset: bigint }[] = [], from = 0) => {
  const out: RawRecord[] = [];
  const d = decodeBatches('t', 3, batches, aborted, from, out);
  return { offsets: out.map((r) => r.offset), out, ...d };
};

test('records in offset order with their timestamps; the next fetch starts after the last batch', () => {
  const r = decode([batch(10, 3, { ts: 5000 }), batch(13, 2)]);
  assert.deepEqual(r.offsets, [10, 11, 12, 13, 14]);
  assert.deepEqual(r.out.slice(0, 3).map((x) => x.timestamp), [5000, 5001, 5002]);
  assert.equal(r.out[0].topic, 't');
  assert.equal(r.out[0].partition, 3);
  assert.deepEqual(r.out[4].value, Buffer.from('v14'));
  assert.equal(r.next, 15);
  assert.equal(r.bytes, 5 * 3);
});

test('records before the fetch offset (a compressed batch comes back whole) are not delivered again', () => {
  assert.deepEqual(decode([batch(10, 5)], [], 12).offsets, [12, 13, 14]);
});

test('LogAppendTime batches: every record has the batch\'s max timestamp', () => {
  assert.deepEqual(decode([batch(0, 3, { attributes: LOG_APPEND, ts: 7000 })]).out.map((x) => x.timestamp), [7099, 7099, 7099]);
});

test('control batches are skipped but the position moves past them', () => {
  const r = decode([batch(0, 2, { producerId: 7, attributes: TXN }), marker(2, 7, false)]);
  assert.deepEqual(r.offsets, [0, 1]);
  assert.equal(r.next, 3);
  const only = decode([marker(5, 7, false)], [], 5);
  assert.deepEqual(only.offsets, []);
  assert.equal(only.next, 6);
});

test('read_committed: two aborted transactions of one producer around a committed one, the list unsorted', () => {
  // Producer 7: aborted 0-1 (marker 2), committed 3-4 (marker 5), aborted 6-7 (marker 8); producer 9 plain 9-10.
  const batches = [batch(0, 2, { producerId: 7, attributes: TXN }), marker(2, 7, true), batch(3, 2, { producerId: 7, attributes: TXN }), marker(5, 7, false), batch(6, 2, { producerId: 7, attributes: TXN }), marker(8, 7, true), batch(9, 2, { producerId: 9 })];
  const r = decode(batches, [{ producerId: 7n, firstOffset: 6n }, { producerId: 7n, firstOffset: 0n }]);
  assert.deepEqual(r.offsets, [3, 4, 9, 10]);
  assert.equal(r.next, 11);
});

test('read_committed: an aborted transaction whose marker is beyond this fetch is skipped as well', () => {
  const r = decode([batch(0, 2, { producerId: 7, attributes: TXN }), batch(2, 2, { producerId: 8, attributes: TXN })], [{ producerId: 7n, firstOffset: 0n }]);
  assert.deepEqual(r.offsets, [2, 3]);
  assert.equal(r.next, 4);
});

test('read_committed: a non-transactional batch of a listed producer id is not skipped', () => {
  assert.deepEqual(decode([batch(0, 2, { producerId: 7 })], [{ producerId: 7n, firstOffset: 0n }]).offsets, [0, 1]);
});
