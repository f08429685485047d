import { Partitioners, type PartitionMetadata } from 'kafkajs';
// The generator source's pieces (same sequences); that module imports nothing of the engine.
import { categoryOf, funnelStep, mulberry32, zipfRank } from '../../src/source/clickstream.js';

/**
 * The bench's events, encoded before a step starts (as the independent Go harness does) so the
 * send loop only slices ready bytes: Zipf-distributed users (s = 1.2), 85 % view, 12 % add to
 * cart, 3 % purchase. Each event's product_id is `p<seq>`, unique within a run: the engine copies
 * it into its prediction, so the reader matches an output to its input by finding that one field
 * instead of parsing the JSON.
 */

export interface EncodedEvents {
  count: number;
  /** First event's sequence number (product_id p<seq>). */
  firstSeq: number;
  /** All values back to back; event i is bytes [ends[i-1], ends[i]). */
  bytes: Buffer;
  ends: Uint32Array;
  partitions: Int32Array;
  /** Key of each event (shared Buffers, one per user). */
  keys: Buffer[];
}

export class Workload {
  private readonly rand: () => number;
  private readonly userKeys: Buffer[] = [];
  private readonly userPartition: Int32Array;
  private readonly partitioner = Partitioners.DefaultPartitioner();
  private readonly meta: PartitionMetadata[];
  private nextSeq = 0;

  constructor(
    private readonly topic: string,
    readonly partitions: number,
    private readonly users: number,
    seed: number,
  ) {
    this.rand = mulberry32(seed);
    this.userPartition = new Int32Array(users).fill(-1);
    this.meta = Array.from({ length: partitions }, (_, i) => ({ partitionId: i, leader: 0 }) as PartitionMetadata);
  }

  get seq(): number {
    return this.nextSeq;
  }

  /** Key → partition exactly as kafkajs's default (Java-compatible murmur2) partitioner places it. */
  private user(rank: number): number {
    if (this.userPartition[rank] < 0) {
      const key = `u${rank}`;
      this.userKeys[rank] = Buffer.from(key, 'latin1');
      this.userPartition[rank] = this.partitioner({ topic: this.topic, partitionMetadata: this.meta, message: { key, value: null } });
    }
    return rank;
  }

  /** `count` events whose timestamp_ms is `epochMsOf(i)` (their scheduled send time). */
  encode(count: number, epochMsOf: (i: number) => number): EncodedEvents {
    const bytes = Buffer.allocUnsafe(count * 160 + 64);
    const ends = new Uint32Array(count);
    const partitions = new Int32Array(count);
    const keys: Buffer[] = new Array(count);
    const firstSeq = this.nextSeq;
    let off = 0;
    for (let i = 0; i < count; i++) {
      const rank = this.user(zipfRank(this.rand(), this.users));
      const type = funnelStep(this.rand());
      const cat = categoryOf(this.rand());
      const v = `{"user_id":"u${rank}","product_id":"p${this.nextSeq++}","category":"${cat}","event_type":"${type}","timestamp_ms":${Math.floor(epochMsOf(i))}}`;
      off += bytes.write(v, off, 'latin1');
      ends[i] = off;
      partitions[i] = this.userPartition[rank];
      keys[i] = this.userKeys[rank];
    }
    return { count, firstSeq, bytes, ends, partitions, keys };
  }
}

export const valueOf = (e: EncodedEvents, i: number): Buffer => e.bytes.subarray(i === 0 ? 0 : e.ends[i - 1], e.ends[i]);

const PID = Buffer.from('"product_id":"p', 'latin1');
const FALLBACK = Buffer.from('"fallback":true', 'latin1');
const QUOTE = 34;

/** Whether `pattern` is at `at` of `buf` (at + pattern.length ≤ end). A byte loop: Buffer.indexOf's
 * Boyer-Moore set-up per call cost the reader more than the whole scan of a 150-byte value. */
function matchAt(buf: Buffer, at: number, end: number, pattern: Buffer): boolean {
  if (at + pattern.length > end) return false;
  for (let k = 1; k < pattern.length; k++) if (buf[at + k] !== pattern[k]) return false;
  return true;
}

function find(buf: Buffer, start: number, end: number, pattern: Buffer): number {
  const second = pattern[1];
  for (let i = start; i < end - 1; i++) if (buf[i] === QUOTE && buf[i + 1] === second && matchAt(buf, i, end, pattern)) return i;
  return -1;
}

/** The sequence number in an output's (or input's) product_id, or -1 when it has none. */
export function seqOf(value: Buffer, start = 0, end = value.length): number {
  const at = find(value, start, end, PID);
  if (at < 0) return -1;
  let n = 0;
  let i = at + PID.length;
  let digits = 0;
  for (; i < end; i++) {
    const c = value[i];
    if (c < 48 || c > 57) break;
    n = n * 10 + (c - 48);
    digits++;
  }
  return digits > 0 && value[i] === QUOTE ? n : -1;
}

export const isFallback = (value: Buffer, start = 0, end = value.length): boolean => find(value, start, end, FALLBACK) >= 0;
