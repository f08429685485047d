import { backoffDelay, type BackoffOptions } from '../shared/backoff.js';
import type { PartitionOffsets } from '../partitions/partition-offsets.js';
import { MAX_BYTES_PER_SEND, sendSize, type OutputRecord, type Sink } from './sink.js';

export interface AckedOutputEvents {
  /** `n` input offsets became done (their output is durable). */
  onDone(n: number): void;
  /** A send failed and will be retried; return true if the failure limit is exceeded. */
  onSendFailure(err: Error, attempt: number): boolean;
  onFatal(err: Error): void;
}

/**
 * At-least-once output: records go to the sink in emit order with one send in flight (what
 * arrives meanwhile forms the next send, so sends grow with load), and an input offset is
 * marked done only when the sink acknowledged its record. A failed send is retried with
 * backoff ahead of everything newer: nothing is dropped and order holds.
 *
 * The queue is three parallel arrays rather than one wrapper object per output: on the hot path
 * every output otherwise cost one more short-lived object (measured in docs/hot-path.md).
 */
export class AckedOutput {
  private records: OutputRecord[] = [];
  private parts: PartitionOffsets[] = [];
  private offsets: number[] = [];
  private sending = false;
  private attempt = 0;
  private fatal = false;
  private idleWaiters: (() => void)[] = [];

  constructor(
    private readonly sink: Sink,
    private readonly backoff: BackoffOptions,
    private readonly events: AckedOutputEvents,
    private readonly maxBytesPerSend = MAX_BYTES_PER_SEND,
  ) {}

  get queued(): number {
    return this.records.length;
  }

  emit(record: OutputRecord, part: PartitionOffsets, offset: number): void {
    this.records.push(record);
    this.parts.push(part);
    this.offsets.push(offset);
    if (!this.sending) {
      this.sending = true;
      setImmediate(() => void this.loop());
    }
  }

  /** Resolves when everything emitted so far is acknowledged. */
  drain(): Promise<void> {
    if (!this.sending && this.records.length === 0) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }

  private async loop(): Promise<void> {
    while (this.records.length > 0 && !this.fatal) {
      const all = this.records.length;
      const k = sendSize(this.records, 0, (r) => r.value.length, this.maxBytesPerSend);
      const records = this.records;
      const parts = this.parts;
      const offsets = this.offsets;
      // Take the first k: the whole queue (the usual case) without copying, else split it.
      const batch = k === all ? records : records.slice(0, k);
      if (k === all) {
        this.records = [];
        this.parts = [];
        this.offsets = [];
      } else {
        this.records = records.slice(k);
        this.parts = parts.slice(k);
        this.offsets = offsets.slice(k);
      }
      try {
        await this.sink.send(batch);
        this.attempt = 0;
        let n = 0;
        for (let i = 0; i < k; i++) if (parts[i].markDone(offsets[i])) n++;
        this.events.onDone(n);
      } catch (err) {
        this.records = batch.concat(this.records);
        this.parts = parts.slice(0, k).concat(this.parts);
        this.offsets = offsets.slice(0, k).concat(this.offsets);
        const e = err as Error;
        if (this.events.onSendFailure(e, ++this.attempt)) {
          this.fatal = true;
          this.events.onFatal(e);
          break;
        }
        await new Promise((r) => setTimeout(r, backoffDelay(this.backoff, this.attempt - 1)));
      }
    }
    this.sending = false;
    const w = this.idleWaiters;
    this.idleWaiters = [];
    for (const r of w) r();
  }
}
