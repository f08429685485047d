/**
 * Per-partition bookkeeping of in-flight offsets: which are done, and the highest offset below
 * which everything is done (Confluent Parallel Consumer's "highest committable offset").
 *
 * Offsets arrive in increasing order per partition but may have gaps (transaction markers,
 * compaction), so the tracker keeps the offsets it was given rather than assuming +1 steps.
 */
export class PartitionOffsets<P = unknown> {
  private offsets: number[] = [];
  private done: boolean[] = [];
  private payloads: (P | undefined)[] = [];
  /** Source timestamp (ms) of each offset, for the age of the oldest uncommitted one. */
  private times: number[] = [];
  private head = 0;
  private doneCount = 0;
  /** Next offset to commit (last contiguous done + 1); -1 until something is done. */
  private committable = -1;
  /** Highest offset ever seen, for lag and for committing when nothing is in flight. */
  private lastSeen = -1;

  get inFlight(): number {
    return this.offsets.length - this.head - this.doneCount;
  }

  get size(): number {
    return this.offsets.length - this.head;
  }

  get highestSeen(): number {
    return this.lastSeen;
  }

  add(offset: number, timestampMs = 0): void {
    if (offset <= this.lastSeen) throw new RangeError(`offset ${offset} added after ${this.lastSeen}`);
    this.lastSeen = offset;
    this.offsets.push(offset);
    this.times.push(timestampMs);
    this.done.push(false);
    this.payloads.push(undefined);
  }

  /** Marks `offset` done (optionally with a payload released in order by takeCommittable). */
  markDone(offset: number, payload?: P): boolean {
    const i = this.indexOf(offset);
    if (i < 0 || this.done[i]) return false;
    this.done[i] = true;
    this.payloads[i] = payload;
    this.doneCount++;
    return true;
  }

  /**
   * Advances over the contiguous done prefix. Returns the offset to commit (last done + 1)
   * and the payloads of the released offsets in offset order, or null if nothing advanced.
   */
  takeCommittable(): { commitOffset: number; payloads: P[] } | null {
    const payloads: P[] = [];
    let advanced = false;
    while (this.head < this.offsets.length && this.done[this.head]) {
      const p = this.payloads[this.head];
      if (p !== undefined) payloads.push(p);
      this.committable = this.offsets[this.head] + 1;
      this.head++;
      this.doneCount--;
      advanced = true;
    }
    // Compact occasionally so memory stays proportional to what is in flight.
    if (this.head > 1024 && this.head * 2 > this.offsets.length) {
      this.offsets = this.offsets.slice(this.head);
      this.done = this.done.slice(this.head);
      this.payloads = this.payloads.slice(this.head);
      this.times = this.times.slice(this.head);
      this.head = 0;
    }
    return advanced ? { commitOffset: this.committable, payloads } : null;
  }

  get commitPosition(): number {
    return this.committable;
  }

  /** Source timestamp of the oldest offset not yet released (-1 when none is in flight). */
  get oldestTimestamp(): number {
    return this.head < this.offsets.length ? this.times[this.head] : -1;
  }

  /** The next offset this partition will commit from: the oldest unreleased offset, else the one after the last seen. */
  get nextToCommit(): number {
    return this.head < this.offsets.length ? this.offsets[this.head] : this.lastSeen + 1;
  }

  private indexOf(offset: number): number {
    let lo = this.head;
    let hi = this.offsets.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const v = this.offsets[mid];
      if (v === offset) return mid;
      if (v < offset) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
  }
}

export interface CommitEntry<P> {
  topic: string;
  partition: number;
  /** The offset to commit: last contiguous done + 1. */
  offset: number;
  payloads: P[];
}
