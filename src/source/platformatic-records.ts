// A fetched partition's record batches (as @platformatic/kafka decodes them) into the source's
// RawRecords, for the read_committed consumer of platformatic-source.ts.
import type { RawRecord } from './source.js';

/** The fields of the library's RecordsBatch this reads (protocol/records.d.ts). */
export interface BatchLike {
  firstOffset: bigint;
  lastOffsetDelta: number;
  attributes: number;
  firstTimestamp: bigint;
  maxTimestamp: bigint;
  producerId: bigint;
  records: { offsetDelta: number; timestampDelta: bigint; key: Buffer | null; value: Buffer | null }[];
}

export interface AbortedLike {
  producerId: bigint;
  firstOffset: bigint;
}

const LOG_APPEND_TIME = 0x08;
const TRANSACTIONAL = 0x10;
const CONTROL = 0x20;

/** A control batch whose marker is an ABORT (control record key: int16 version, int16 type; 0 = abort). */
function isAbortMarker(b: BatchLike): boolean {
  const key = b.records[0]?.key;
  return !!key && key.length >= 4 && key.readInt16BE(2) === 0;
}

export interface Decoded {
  /** The next offset to fetch (past every batch returned, control and aborted ones included). */
  next: number;
  /** Value bytes of the records appended. */
  bytes: number;
}

/**
 * Appends the records of `batches` at or after `fetchOffset` to `out`, skipping control batches
 * and, read_committed, the batches of aborted transactions, the way the Java client does
 * (Fetcher: the aborted list sorted by first offset; a producer's transactional batches are
 * aborted from its listed first offset until its ABORT marker). The library's own filter does
 * not do this: it keeps one range per producer, so two aborted transactions of one producer in
 * a fetch, or a list not sorted by first offset, drop committed records or return aborted ones,
 * and it returns an aborted transaction's records when its marker is beyond the fetch.
 */
export function decodeBatches(topic: string, partition: number, batches: readonly BatchLike[], aborted: readonly AbortedLike[] | undefined, fetchOffset: number, out: RawRecord[]): Decoded {
  let next = fetchOffset;
  let bytes = 0;
  const pending = aborted?.length ? [...aborted].sort((a, b) => (a.firstOffset < b.firstOffset ? -1 : a.firstOffset > b.firstOffset ? 1 : 0)) : null;
  let ai = 0;
  const abortedProducers = pending ? new Set<bigint>() : null;
  for (const b of batches) {
    const base = Number(b.firstOffset);
    const last = base + b.lastOffsetDelta;
    if (last + 1 > next) next = last + 1;
    const attrs = b.attributes;
    if (pending && b.producerId >= 0n) {
      while (ai < pending.length && Number(pending[ai].firstOffset) <= last) abortedProducers!.add(pending[ai++].producerId);
      if (attrs & CONTROL) {
        if (isAbortMarker(b)) abortedProducers!.delete(b.producerId);
      } else if (attrs & TRANSACTIONAL && abortedProducers!.has(b.producerId)) continue;
    }
    if (attrs & CONTROL) continue;
    const logAppend = (attrs & LOG_APPEND_TIME) !== 0;
    const ts = Number(logAppend ? b.maxTimestamp : b.firstTimestamp);
    const rs = b.records;
    for (let i = 0; i < rs.length; i++) {
      const r = rs[i];
      const offset = base + r.offsetDelta;
      // A compressed batch is returned whole: records before the fetch offset were delivered already.
      if (offset < fetchOffset) continue;
      out.push({ topic, partition, offset, key: r.key, value: r.value, timestamp: logAppend ? ts : ts + Number(r.timestampDelta) });
      if (r.value) bytes += r.value.length;
    }
  }
  return { next, bytes };
}
