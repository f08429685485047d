import { backoffDelay, type BackoffOptions } from '../shared/backoff.js';
import type { PartitionOffsets } from '../partitions/partition-offsets.js';
import { MAX_BYTES_PER_SEND, sendSize, type OutputRecord, type Sink } from './sink.js';

interface Pending {
  record: OutputRecord;
  part: PartitionOffsets<OutputRecord>;
  offset: number;
}

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
 */
export class AckedOutput {
  private buf: Pending[] = [];
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
    return this.buf.length;
  }

  emit(record: OutputRecord, part: PartitionOffsets<OutputRecord>, offset: number): void {
    this.buf.push({ record, part, offset });
    if (!this.sending) {
      this.sending = true;
      setImmediate(() => void this.loop());
    }
  }

  /** Resolves when everything emitted so far is acknowledged. */
  drain(): Promise<void> {
    if (!this.sending && this.buf.length === 0) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }

  private async loop(): Promise<void> {
    while (this.buf.length > 0 && !this.fatal) {
      const k = sendSize(this.buf, 0, (p) => p.record.value.length, this.maxBytesPerSend);
      const batch = k === this.buf.length ? this.buf : this.buf.slice(0, k);
      this.buf = batch === this.buf ? [] : this.buf.slice(k);
      try {
        await this.sink.send(batch.map((p) => p.record));
        this.attempt = 0;
        let n = 0;
        for (const p of batch) if (p.part.markDone(p.offset)) n++;
        this.events.onDone(n);
      } catch (err) {
        this.buf = batch.concat(this.buf);
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
