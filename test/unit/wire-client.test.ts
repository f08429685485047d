// The bench harness's wire-protocol client: the record batches it produces are well-formed (CRC-32C,
// offsets, lengths) and its fetch decoder hands back exactly the committed values, in order, from
// the requested offset on (read_committed: aborted transactions skipped, partial batches left).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HEADER, crc32c, decodeFetch, encodeProduce } from '../../bench/harness/wire-client.js';
import { Workload, isFallback, seqOf, valueOf, type EncodedEvents } from '../../bench/harness/workload.js';

const TOPIC = Buffer.from('in', 'latin1');

/** The record batches of a Produce v3 request, per partition. */
function batchesOf(frame: Buffer): Map<number, Buffer> {
  let pos = HEADER + 2 + 2 + 4 + 4; // transactional id, acks, timeout, 1 topic
  pos += 2 + frame.readInt16BE(pos);
  const n = frame.readInt32BE(pos);
  pos += 4;
  const out = new Map<number, Buffer>();
  for (let i = 0; i < n; i++) {
    const p = frame.readInt32BE(pos);
    const len = frame.readInt32BE(pos + 4);
    out.set(p, frame.subarray(pos + 8, pos + 8 + len));
    pos += 8 + len;
  }
  assert.equal(pos, frame.length, 'request length');
  return out;
}

/** A Fetch v4 response body (after the correlation id) with one topic. */
function fetchResponse(parts: { partition: number; records: Buffer; aborted?: [pid: number, first: number][] }[]): Buffer {
  const chunks: Buffer[] = [];
  const i32 = (v: number) => {
    const b = Buffer.alloc(4);
    b.writeInt32BE(v);
    chunks.push(b);
  };
  const i64 = (v: number) => {
    const b = Buffer.alloc(8);
    b.writeBigInt64BE(BigInt(v));
    chunks.push(b);
  };
  i32(0); // throttle
  i32(1);
  chunks.push(Buffer.from([0, 3]), Buffer.from('out'));
  i32(parts.length);
  for (const p of parts) {
    i32(p.partition);
    chunks.push(Buffer.from([0, 0])); // error
    i64(1000); // high watermark
    i64(1000); // last stable offset
    i32(p.aborted?.length ?? -1);
    for (const [pid, first] of p.aborted ?? []) (i64(pid), i64(first));
    i32(p.records.length);
    chunks.push(p.records);
  }
  return Buffer.concat(chunks);
}

/** `batch` rewritten to start at `baseOffset`, optionally transactional/control from `pid`. */
function rebase(batch: Buffer, baseOffset: number, opts: { pid?: number; attributes?: number } = {}): Buffer {
  const b = Buffer.from(batch);
  b.writeBigInt64BE(BigInt(baseOffset), 0);
  if (opts.attributes !== undefined) b.writeInt16BE(opts.attributes, 21);
  if (opts.pid !== undefined) b.writeBigInt64BE(BigInt(opts.pid), 43);
  return b;
}

/** A control batch (one record, key = version 0, type) at `offset` from `pid`; type 0 aborts. */
function controlBatch(offset: number, pid: number, type: 0 | 1): Buffer {
  const record = Buffer.from([/* length */ 2 * 10, 0, 0, 0, /* key length 4 */ 8, 0, 0, 0, type, /* value length 2 */ 4, 0, 0, /* headers */ 0]);
  const b = Buffer.alloc(61 + record.length);
  b.writeBigInt64BE(BigInt(offset), 0);
  b.writeInt32BE(b.length - 12, 8);
  b[16] = 2;
  b.writeInt16BE(16 | 32, 21);
  b.writeInt32BE(0, 23);
  b.writeBigInt64BE(BigInt(pid), 43);
  b.writeInt32BE(1, 57);
  record.copy(b, 61);
  return b;
}

/** The values a fetch of `response` hands over, in order, and the next fetch offsets. */
function read(response: Buffer, partitions: number, from = 0): { values: string[]; offsets: number[] } {
  const states = Array.from({ length: partitions }, () => ({ offset: from, aborted: new Set<number>() }));
  const values: string[] = [];
  decodeFetch(response, states, (buf, start, end) => void values.push(buf.toString('latin1', start, end)));
  return { values, offsets: states.map((s) => s.offset) };
}

function events(count: number, partitions = 2): EncodedEvents {
  return new Workload('in', partitions, 50, 3).encode(count, (i) => 1_700_000_000_000 + i);
}

test('CRC-32C of the standard check string', () => {
  assert.equal(crc32c(Buffer.from('123456789'), 0, 9), 0xe3069283);
});

test('a produce request holds one checksummed batch per partition, and a fetch of them reads every value back in order', () => {
  const ev = events(300);
  const frame = encodeProduce(TOPIC, ev, 10, 290, 2, 30_000);
  const batches = batchesOf(frame);
  assert.deepEqual([...batches.keys()].sort(), [0, 1]);
  for (const [p, batch] of batches) {
    const expected: string[] = [];
    for (let i = 10; i < 290; i++) if (ev.partitions[i] === p) expected.push(valueOf(ev, i).toString('latin1'));
    assert.equal(batch.readInt32BE(8), batch.length - 12, 'batch length');
    assert.equal(batch.readUInt32BE(17), crc32c(batch, 21, batch.length), 'batch CRC');
    assert.equal(batch.readInt32BE(57), expected.length, 'record count');
    assert.equal(batch.readInt32BE(23), expected.length - 1, 'last offset delta');
    const { values, offsets } = read(fetchResponse([{ partition: p, records: batch }]), 2);
    assert.deepEqual(values, expected);
    assert.equal(offsets[p], expected.length, 'next fetch offset');
  }
});

test('the fetch decoder skips records before the fetch offset, aborted transactions and a partial batch at the end', () => {
  const ev = events(40, 1);
  const [batch] = [...batchesOf(encodeProduce(TOPIC, ev, 0, 40, 1, 30_000)).values()];
  const all = [];
  for (let i = 0; i < 40; i++) all.push(valueOf(ev, i).toString('latin1'));
  // offsets 0-39 committed, 40-79 an aborted transaction of producer 7, 80 its abort marker,
  // 81-120 a later, committed transaction of the same producer, then the first 100 bytes of another batch.
  const records = Buffer.concat([
    rebase(batch, 0),
    rebase(batch, 40, { pid: 7, attributes: 16 }),
    controlBatch(80, 7, 0),
    rebase(batch, 81, { pid: 7, attributes: 16 }),
    rebase(batch, 121).subarray(0, 100),
  ]);
  const { values, offsets } = read(fetchResponse([{ partition: 0, records, aborted: [[7, 40]] }]), 1, 25);
  assert.deepEqual(values, [...all.slice(25), ...all]);
  assert.equal(offsets[0], 121, 'stops before the partial batch');
});

test('the harness finds an output by its product_id sequence and sees the fallback flag', () => {
  const v = Buffer.from('xx{"user_id":"u1","product_id":"p12345","score":0.5,"fallback":true}yy');
  assert.equal(seqOf(v, 2, v.length - 2), 12345);
  assert.equal(isFallback(v, 2, v.length - 2), true);
  assert.equal(isFallback(v, 2, 40), false, 'only within the range');
  assert.equal(seqOf(Buffer.from('{"product_id":"p12x"}')), -1);
  assert.equal(seqOf(Buffer.from('{"product_id":"q1"}')), -1);
});
