import { connect, type Socket } from 'node:net';
import type { HarnessClient } from './kafkajs-client.js';
import type { EncodedEvents } from './workload.js';

/**
 * The harness's Kafka side written straight on the wire protocol (Metadata v1, Produce v3, Fetch v4
 * read_committed, uncompressed record batches v2), because both general clients cost the harness
 * more CPU than the bench may spend (issue 12: ≤ 10% of a core at 10,000 events/s; kafkajs
 * 45–57%, @platformatic/kafka 23–26% here). They build an object per record on both sides; this
 * one copies the pre-encoded values of a tick into one produce request, and hands the reader each
 * value as a range of the fetch response, without a copy or an object per record.
 *
 * Bench-only: one connection for producing and one for fetching (a long-polling fetch would hold
 * up produce responses on a shared connection), both to the partitions' single leader; a topic
 * whose partitions have different leaders is refused, not half-served.
 */

export class WireClientError extends Error {
  override name = 'WireClientError';
  constructor(
    message: string,
    readonly code?: number,
  ) {
    super(message);
  }
}

const CLIENT_ID = Buffer.from('bench-harness', 'latin1');
const API_PRODUCE = 0;
const API_FETCH = 1;
const API_METADATA = 3;

/** Bytes before a request's body: size, api key, version, correlation id, client id. */
export const HEADER = 4 + 2 + 2 + 4 + 2 + CLIENT_ID.length;

/**
 * One TCP connection, requests answered in order (Kafka's per-connection guarantee). Reads go
 * through `onread` into one reused buffer (no stream machinery, no Buffer per read), and each
 * request is a single write of one buffer the encoder sized with HEADER bytes in front.
 */
class Connection {
  private correlation = 0;
  private readonly waiting: { id: number; resolve: (b: Buffer) => void; reject: (e: Error) => void }[] = [];
  private acc = Buffer.allocUnsafe(1 << 16);
  private accLen = 0;
  private closed: Error | null = null;

  private constructor(private readonly socket: Socket) {
    socket.setNoDelay(true);
    const fail = (e: Error) => {
      this.closed ??= e;
      for (const w of this.waiting.splice(0)) w.reject(e);
    };
    socket.on('error', fail);
    socket.on('close', () => fail(new WireClientError('connection closed')));
  }

  static open(host: string, port: number): Promise<Connection> {
    return new Promise((resolve, reject) => {
      let conn: Connection | null = null;
      const s = connect({
        host,
        port,
        onread: {
          buffer: Buffer.allocUnsafe(1 << 16),
          callback: (n: number, buf: Uint8Array) => {
            conn?.onRead(n, buf); // nothing arrives before the first request
            return true;
          },
        },
      });
      s.once('connect', () => {
        s.off('error', reject);
        resolve((conn = new Connection(s)));
      });
      s.once('error', reject);
    });
  }

  /** Sends `frame` (HEADER bytes, then the body) as one request; resolves with the response body. */
  request(apiKey: number, version: number, frame: Buffer): Promise<Buffer> {
    if (this.closed) return Promise.reject(this.closed);
    const id = (this.correlation = (this.correlation + 1) | 0);
    frame.writeInt32BE(frame.length - 4, 0);
    frame.writeInt16BE(apiKey, 4);
    frame.writeInt16BE(version, 6);
    frame.writeInt32BE(id, 8);
    frame.writeInt16BE(CLIENT_ID.length, 12);
    CLIENT_ID.copy(frame, 14);
    this.socket.write(frame);
    return new Promise((resolve, reject) => this.waiting.push({ id, resolve, reject }));
  }

  private onRead(n: number, buf: Uint8Array): void {
    if (this.accLen + n > this.acc.length) {
      const bigger = Buffer.allocUnsafe(Math.max(this.acc.length * 2, this.accLen + n));
      this.acc.copy(bigger, 0, 0, this.accLen);
      this.acc = bigger;
    }
    this.acc.set(buf.subarray(0, n), this.accLen);
    this.accLen += n;
    let pos = 0;
    while (this.accLen - pos >= 4) {
      const size = this.acc.readInt32BE(pos);
      if (this.accLen - pos < 4 + size) break;
      const frame = Buffer.allocUnsafe(size);
      this.acc.copy(frame, 0, pos + 4, pos + 4 + size);
      pos += 4 + size;
      const w = this.waiting.shift();
      if (!w) continue;
      if (frame.readInt32BE(0) !== w.id) w.reject(new WireClientError(`response ${frame.readInt32BE(0)} answers request ${w.id}`));
      else w.resolve(frame.subarray(4));
    }
    if (pos > 0) {
      this.acc.copy(this.acc, 0, pos, this.accLen);
      this.accLen -= pos;
    }
  }

  close(): void {
    this.closed ??= new WireClientError('closed');
    this.socket.destroy();
  }
}

// --- encoding --------------------------------------------------------------------------------

const CRC32C_TABLE = (() => {
  const t = new Int32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
    t[n] = c;
  }
  return t;
})();

/** CRC-32C (Castagnoli), the record batch checksum. */
export function crc32c(buf: Buffer, from: number, to: number): number {
  let c = -1;
  for (let i = from; i < to; i++) c = CRC32C_TABLE[(c ^ buf[i]) & 0xff] ^ (c >>> 8);
  return (c ^ -1) >>> 0;
}

/** Bytes of the zig-zag varint of a non-negative int32. */
const varintSize = (n: number): number => {
  let z = n * 2;
  let s = 1;
  while (z >= 0x80) {
    z = Math.floor(z / 128);
    s++;
  }
  return s;
};

function writeVarint(buf: Buffer, pos: number, n: number): number {
  let z = n * 2;
  while (z >= 0x80) {
    buf[pos++] = (z & 0x7f) | 0x80;
    z = Math.floor(z / 128);
  }
  buf[pos++] = z;
  return pos;
}

const BATCH_HEADER = 61;

function stringSize(s: Buffer): number {
  return 2 + s.length;
}

/** The Produce v3 request for events [from, to), body after HEADER bytes: one record batch per partition. */
export function encodeProduce(topic: Buffer, events: EncodedEvents, from: number, to: number, partitions: number, timeoutMs: number): Buffer {
  const counts = new Int32Array(partitions);
  const sizes = new Int32Array(partitions);
  for (let i = from; i < to; i++) {
    const p = events.partitions[i];
    const keyLen = events.keys[i].length;
    const valLen = events.ends[i] - (i === 0 ? 0 : events.ends[i - 1]);
    // attributes, timestampDelta 0, offsetDelta, key, value, no headers
    const body = 1 + 1 + varintSize(counts[p]) + varintSize(keyLen) + keyLen + varintSize(valLen) + valLen + 1;
    sizes[p] += varintSize(body) + body;
    counts[p]++;
  }
  let used = 0;
  let total = HEADER + 2 + 2 + 4 + 4 + stringSize(topic) + 4;
  for (let p = 0; p < partitions; p++) {
    if (counts[p] === 0) continue;
    used++;
    total += 4 + 4 + BATCH_HEADER + sizes[p];
  }
  const buf = Buffer.allocUnsafe(total);
  let pos = HEADER;
  pos = buf.writeInt16BE(-1, pos); // transactional_id: null
  pos = buf.writeInt16BE(-1, pos); // acks: all
  pos = buf.writeInt32BE(timeoutMs, pos);
  pos = buf.writeInt32BE(1, pos);
  pos = buf.writeInt16BE(topic.length, pos);
  pos += topic.copy(buf, pos);
  pos = buf.writeInt32BE(used, pos);
  const now = Date.now();
  const nowHi = Math.floor(now / 4294967296);
  const nowLo = now >>> 0;
  for (let p = 0; p < partitions; p++) {
    if (counts[p] === 0) continue;
    pos = buf.writeInt32BE(p, pos);
    const batchLen = BATCH_HEADER + sizes[p];
    pos = buf.writeInt32BE(batchLen, pos);
    const start = pos;
    buf.fill(0, pos, pos + 8); // baseOffset
    buf.writeInt32BE(batchLen - 12, pos + 8);
    buf.writeInt32BE(-1, pos + 12); // partitionLeaderEpoch
    buf[pos + 16] = 2; // magic
    buf.writeInt16BE(0, pos + 21); // attributes: no compression, CreateTime
    buf.writeInt32BE(counts[p] - 1, pos + 23); // lastOffsetDelta
    buf.writeInt32BE(nowHi, pos + 27); // firstTimestamp
    buf.writeUInt32BE(nowLo, pos + 31);
    buf.writeInt32BE(nowHi, pos + 35); // maxTimestamp
    buf.writeUInt32BE(nowLo, pos + 39);
    buf.fill(0xff, pos + 43, pos + 57); // producerId -1, producerEpoch -1, baseSequence -1
    buf.writeInt32BE(counts[p], pos + 57);
    pos += BATCH_HEADER;
    let delta = 0;
    for (let i = from; i < to; i++) {
      if (events.partitions[i] !== p) continue;
      const key = events.keys[i];
      const vStart = i === 0 ? 0 : events.ends[i - 1];
      const valLen = events.ends[i] - vStart;
      const body = 1 + 1 + varintSize(delta) + varintSize(key.length) + key.length + varintSize(valLen) + valLen + 1;
      pos = writeVarint(buf, pos, body);
      buf[pos++] = 0;
      buf[pos++] = 0;
      pos = writeVarint(buf, pos, delta++);
      pos = writeVarint(buf, pos, key.length);
      pos += key.copy(buf, pos);
      pos = writeVarint(buf, pos, valLen);
      pos += events.bytes.copy(buf, pos, vStart, events.ends[i]);
      buf[pos++] = 0;
    }
    buf.writeUInt32BE(crc32c(buf, start + 21, pos), start + 17);
  }
  return buf;
}

// --- decoding --------------------------------------------------------------------------------

let at = 0; // read position of the decoders below (module state: no object per value read)

function readVarint(buf: Buffer): number {
  let z = 0;
  let mul = 1;
  for (;;) {
    const b = buf[at++];
    z += (b & 0x7f) * mul;
    if (b < 0x80) break;
    mul *= 128;
  }
  return z % 2 === 0 ? z / 2 : -(z + 1) / 2;
}

const readInt64 = (buf: Buffer, pos: number): number => buf.readInt32BE(pos) * 4294967296 + buf.readUInt32BE(pos + 4);

function readString(buf: Buffer): string {
  const len = buf.readInt16BE(at);
  at += 2;
  if (len < 0) return '';
  const s = buf.toString('utf8', at, at + len);
  at += len;
  return s;
}

interface PartitionLeader {
  partition: number;
  leader: number;
}

/** Partitions of `topic` and the address of their (single) leader. */
async function metadata(conn: Connection, topic: string): Promise<{ partitions: PartitionLeader[]; host: string; port: number }> {
  const name = Buffer.from(topic, 'utf8');
  const body = Buffer.allocUnsafe(HEADER + 4 + 2 + name.length);
  body.writeInt32BE(1, HEADER);
  body.writeInt16BE(name.length, HEADER + 4);
  name.copy(body, HEADER + 6);
  const r = await conn.request(API_METADATA, 1, body);
  at = 0;
  const brokers = new Map<number, { host: string; port: number }>();
  const nb = r.readInt32BE(at);
  at += 4;
  for (let i = 0; i < nb; i++) {
    const id = r.readInt32BE(at);
    at += 4;
    const host = readString(r);
    const port = r.readInt32BE(at);
    at += 4;
    readString(r); // rack
    brokers.set(id, { host, port });
  }
  at += 4; // controller_id
  at += 4; // topics: 1
  const err = r.readInt16BE(at);
  at += 2;
  readString(r);
  at += 1; // is_internal
  if (err !== 0) throw new WireClientError(`metadata for ${topic}: error code ${err}`, err);
  const np = r.readInt32BE(at);
  at += 4;
  const partitions: PartitionLeader[] = [];
  for (let i = 0; i < np; i++) {
    at += 2;
    const partition = r.readInt32BE(at);
    const leader = r.readInt32BE(at + 4);
    at += 8;
    at += 4 + 4 * r.readInt32BE(at); // replicas
    at += 4 + 4 * r.readInt32BE(at); // isr
    partitions.push({ partition, leader });
  }
  partitions.sort((a, b) => a.partition - b.partition);
  const leaders = new Set(partitions.map((p) => p.leader));
  if (leaders.size !== 1) throw new WireClientError(`${topic}: partitions led by ${leaders.size} brokers; the bench's wire client serves a single leader`);
  const b = brokers.get(partitions[0].leader);
  if (!b) throw new WireClientError(`${topic}: leader ${partitions[0].leader} not among the brokers`);
  return { partitions, ...b };
}

async function metadataWhenReady(conn: Connection, topic: string): Promise<Awaited<ReturnType<typeof metadata>>> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await metadata(conn, topic);
    } catch (e) {
      // 3 UNKNOWN_TOPIC_OR_PARTITION, 5 LEADER_NOT_AVAILABLE: a just-created topic
      if (!(e instanceof WireClientError) || (e.code !== 3 && e.code !== 5) || attempt >= 50) throw e;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/** What a fetch loop keeps per partition between responses (read_committed bookkeeping). */
interface FetchState {
  offset: number;
  /** Producers whose open transaction in this partition was aborted (skip until their marker). */
  aborted: Set<number>;
}

/**
 * Walks a response's topics → partitions arrays from `at`. `each` starts at a partition's first
 * field and must leave `at` after that partition.
 */
function eachPartition(r: Buffer, each: () => void): void {
  const nt = r.readInt32BE(at);
  at += 4;
  for (let t = 0; t < nt; t++) {
    readString(r);
    const np = r.readInt32BE(at);
    at += 4;
    for (let q = 0; q < np; q++) each();
  }
}

/**
 * Hands each committed value of one Fetch v4 response to `onValue(buf, start, end)`; advances the
 * offsets. Aborted transactions are skipped as the Java consumer does: a producer listed as aborted
 * from an offset is skipped from that offset until its abort marker.
 */
export function decodeFetch(r: Buffer, states: FetchState[], onValue: (buf: Buffer, start: number, end: number) => void): void {
  at = 4; // throttle_time_ms
  eachPartition(r, () => {
    const partition = r.readInt32BE(at);
    const err = r.readInt16BE(at + 4);
    at += 4 + 2 + 8 + 8; // partition, error, high watermark, last stable offset
    const na = r.readInt32BE(at);
    at += 4;
    const abortedFrom: number[] = [];
    const abortedPid: number[] = [];
    for (let i = 0; i < na; i++) {
      abortedPid.push(readInt64(r, at));
      abortedFrom.push(readInt64(r, at + 8));
      at += 16;
    }
    const size = r.readInt32BE(at);
    at += 4;
    const end = at + Math.max(0, size);
    if (err !== 0) throw new WireClientError(`fetch partition ${partition}: error code ${err}`, err);
    decodeBatches(r, at, end, partition, states[partition], abortedPid, abortedFrom, onValue);
    at = end;
  });
}

/** The record batches in bytes [start, end) of one partition's records (see decodeFetch). */
function decodeBatches(r: Buffer, start: number, end: number, partition: number, st: FetchState, abortedPid: number[], abortedFrom: number[], onValue: (buf: Buffer, start: number, end: number) => void): void {
  const from = st.offset; // a response may begin inside a batch that starts before it
  let a = 0;
  let pos = start;
  while (pos + BATCH_HEADER <= end) {
    const base = readInt64(r, pos);
    const batchEnd = pos + 12 + r.readInt32BE(pos + 8);
    if (batchEnd > end) break; // a partial batch at the end of the response
    if (r[pos + 16] !== 2) throw new WireClientError(`partition ${partition} offset ${base}: record batch magic ${r[pos + 16]}, only v2 is read`);
    const attributes = r.readInt16BE(pos + 21);
    if ((attributes & 7) !== 0) throw new WireClientError(`partition ${partition} offset ${base}: compressed batch (codec ${attributes & 7}); the bench's wire client reads uncompressed batches`);
    const next = base + r.readInt32BE(pos + 23) + 1;
    const pid = readInt64(r, pos + 43);
    while (a < abortedFrom.length && abortedFrom[a] <= base) st.aborted.add(abortedPid[a++]);
    const transactional = (attributes & 16) !== 0;
    if ((attributes & 32) !== 0) {
      // A control batch: its record's key is (version int16, type int16); 0 = abort.
      at = pos + BATCH_HEADER;
      readVarint(r); // length
      at += 1;
      readVarint(r); // timestampDelta
      readVarint(r); // offsetDelta
      readVarint(r); // key length
      if (r.readInt16BE(at + 2) === 0) st.aborted.delete(pid);
    } else if (!(transactional && st.aborted.has(pid))) {
      const n = r.readInt32BE(pos + 57);
      at = pos + BATCH_HEADER;
      for (let i = 0; i < n; i++) {
        const len = readVarint(r);
        const recEnd = at + len;
        at += 1; // attributes
        readVarint(r); // timestampDelta
        const offset = base + readVarint(r);
        const keyLen = readVarint(r);
        if (keyLen > 0) at += keyLen;
        const valLen = readVarint(r);
        if (valLen >= 0 && offset >= from) onValue(r, at, at + valLen);
        at = recEnd;
      }
    }
    if (next > st.offset) st.offset = next;
    pos = batchEnd;
  }
}

function encodeFetch(topic: Buffer, states: FetchState[], maxWaitMs: number): Buffer {
  const n = states.length;
  const buf = Buffer.allocUnsafe(HEADER + 4 + 4 + 4 + 4 + 1 + 4 + stringSize(topic) + 4 + n * 16);
  let pos = buf.writeInt32BE(-1, HEADER); // replica_id
  pos = buf.writeInt32BE(maxWaitMs, pos);
  pos = buf.writeInt32BE(1, pos); // min_bytes: return as soon as anything arrives
  pos = buf.writeInt32BE(16 << 20, pos); // max_bytes
  buf[pos++] = 1; // isolation_level: read_committed
  pos = buf.writeInt32BE(1, pos);
  pos = buf.writeInt16BE(topic.length, pos);
  pos += topic.copy(buf, pos);
  pos = buf.writeInt32BE(n, pos);
  for (let p = 0; p < n; p++) {
    pos = buf.writeInt32BE(p, pos);
    const o = states[p].offset;
    pos = buf.writeInt32BE(Math.floor(o / 4294967296), pos);
    pos = buf.writeUInt32BE(o >>> 0, pos);
    pos = buf.writeInt32BE(4 << 20, pos);
  }
  return buf;
}

function parseProduce(r: Buffer): void {
  at = 0;
  eachPartition(r, () => {
    const err = r.readInt16BE(at + 4);
    if (err !== 0) throw new WireClientError(`produce to partition ${r.readInt32BE(at)}: error code ${err}`, err);
    at += 4 + 2 + 8 + 8; // partition, error, base offset, log append time
  });
}

const hostPort = (b: string): { host: string; port: number } => {
  const i = b.lastIndexOf(':');
  return { host: b.slice(0, i), port: Number(b.slice(i + 1)) };
};

export async function wireClient(o: { brokers: string[]; inputTopic: string; readTopic: string; partitions: number; fetchWaitMs: number }): Promise<HarnessClient> {
  const boot = hostPort(o.brokers[0]);
  const bootConn = await Connection.open(boot.host, boot.port);
  let producer: Connection;
  const inputTopic = Buffer.from(o.inputTopic, 'utf8');
  let partitions = o.partitions;
  try {
    const m = await metadataWhenReady(bootConn, o.inputTopic);
    partitions = m.partitions.length;
    producer = await Connection.open(m.host, m.port);
  } finally {
    bootConn.close();
  }
  let reader: Connection | null = null;
  let closed = false;
  return {
    send(events, from, to) {
      return producer.request(API_PRODUCE, 3, encodeProduce(inputTopic, events, from, to, partitions, 30_000)).then(parseProduce);
    },
    async startReader(onValue) {
      const c = await Connection.open(boot.host, boot.port);
      const m = await metadataWhenReady(c, o.readTopic).finally(() => c.close());
      const conn = (reader = await Connection.open(m.host, m.port));
      const topic = Buffer.from(o.readTopic, 'utf8');
      // The bench creates every topic it reads, so offset 0 is where it begins (as 'earliest').
      const states: FetchState[] = m.partitions.map(() => ({ offset: 0, aborted: new Set<number>() }));
      const loop = async (): Promise<void> => {
        while (!closed) {
          const r = await conn.request(API_FETCH, 4, encodeFetch(topic, states, o.fetchWaitMs));
          decodeFetch(r, states, onValue);
        }
      };
      // A reader that stops would read as an engine that stopped: fail the harness loudly instead.
      loop().catch((e: Error) => {
        if (!closed) throw e;
      });
    },
    async close() {
      closed = true;
      producer.close();
      reader?.close();
    },
  };
}
