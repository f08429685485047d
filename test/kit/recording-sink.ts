// A Sink for in-process engine tests: records every send, and on demand holds acknowledgements
// back until released or fails sends, so tests can see what the engine commits meanwhile.
import type { OutputRecord, Sink } from '../../src/output/sink.js';

interface Held {
  records: OutputRecord[];
  release: () => void;
}

export class RecordingSink implements Sink {
  /** Every send attempt, in order (also failed and held ones). */
  readonly sends: OutputRecord[][] = [];
  /** Records of acknowledged sends, in order. */
  readonly acked: OutputRecord[] = [];
  /** Sends held back, waiting for release(). */
  readonly held: Held[] = [];
  /** A send with a record for which this returns true is held (its ack withheld) until release(). */
  holdWhen: ((r: OutputRecord) => boolean) | null = null;
  /** Sends that will fail next (each failure decrements it). */
  failSends = 0;
  closed = false;

  async send(records: OutputRecord[]): Promise<void> {
    this.sends.push(records);
    if (this.failSends > 0) {
      this.failSends--;
      throw new Error('scripted send failure');
    }
    if (this.holdWhen && records.some(this.holdWhen)) {
      this.holdWhen = null;
      await new Promise<void>((release) => this.held.push({ records, release }));
    }
    this.acked.push(...records);
  }

  /** Acknowledges every held send. */
  release(): void {
    for (const h of this.held.splice(0)) h.release();
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  /** Acked records of one topic, values parsed. */
  values<T = Record<string, unknown>>(topic: string): T[] {
    return this.acked.filter((r) => r.topic === topic).map((r) => JSON.parse(r.value.toString()) as T);
  }
}

/** The input position an output record (prediction or dead letter) names in value.source. */
export function sourceOf(r: OutputRecord): { topic: string; partition: number; offset: number } {
  return (JSON.parse(r.value.toString()) as { source: { topic: string; partition: number; offset: number } }).source;
}
