// One input partition's exactly-once output not yet known to be committed, the same for both
// Kafka clients' transactions: staged records, oldest first, with the input offset to commit
// with them, and how much of it the last transaction carried (whose outcome may be unknown).
import type { CommitEntry } from '../partitions/partition-offsets.js';
import type { OutputRecord } from './sink.js';

export class PendingRecords {
  /** Every record not yet committed, oldest first: retried first in the next transaction. */
  records: OutputRecord[] = [];
  /** The offset to commit with them; -1 when nothing is pending. */
  offset = -1;
  /** Records (the head of `records`) and offset the last transaction begun carried. */
  private sentCount = 0;
  private sentOffset = -1;

  /** Staged before any transaction: whatever happens next, they stay pending until one commits them. */
  stage(e: CommitEntry<OutputRecord>): void {
    if (e.payloads.length) this.records = this.records.length ? this.records.concat(e.payloads) : e.payloads;
    this.offset = Math.max(this.offset, e.offset);
  }

  get pending(): boolean {
    return this.offset >= 0;
  }

  /** A transaction of everything pending begins; returns what it carries. */
  begin(): { records: OutputRecord[]; offset: number } {
    this.sentCount = this.records.length;
    this.sentOffset = this.offset;
    return { records: this.records, offset: this.offset };
  }

  /** The offset the last transaction carried (-1: none begun). */
  get beganOffset(): number {
    return this.sentOffset;
  }

  /**
   * The last transaction begun committed (learnt now or later): its records are out. Returns
   * how many; what was staged after it stays pending.
   */
  committed(): number {
    const n = this.sentCount;
    this.records = n === this.records.length ? [] : this.records.slice(n);
    if (this.records.length === 0 && this.offset === this.sentOffset) this.offset = -1;
    this.sentCount = 0;
    return n;
  }
}
