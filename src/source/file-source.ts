import { createReadStream } from 'node:fs';
import { createInterface, type Interface } from 'node:readline';
import type { Readable } from 'node:stream';
import type { RawRecord, Source, SourceHandlers, TopicPartition } from './source.js';

const BATCH = 256;

/**
 * Replays an NDJSON file (or stdin for '-') as partition 0 of topic 'input': one line, one
 * record, offset = line number. Blank lines are not records. Honours pause for backpressure.
 */
export class FileSource implements Source {
  readonly kind = 'file' as const;
  private rl: Interface | null = null;
  private stream: Readable | null = null;
  private finishedResolve!: () => void;
  private finishedReject!: (e: Error) => void;
  readonly finished: Promise<void>;
  private pausedParts = 0;

  constructor(private readonly path: string, readonly topic = 'input') {
    this.finished = new Promise((res, rej) => {
      this.finishedResolve = res;
      this.finishedReject = rej;
    });
  }

  async start(h: SourceHandlers): Promise<void> {
    h.onAssignment([{ topic: this.topic, partition: 0 }]);
    this.stream = this.path === '-' ? process.stdin : createReadStream(this.path);
    this.stream.on('error', (err) => {
      h.onFatal(err);
      this.finishedReject(err);
    });
    this.rl = createInterface({ input: this.stream, crlfDelay: Infinity });
    let line = 0;
    let batch: RawRecord[] = [];
    const flush = () => {
      if (batch.length) h.onBatch(batch);
      batch = [];
    };
    this.rl.on('line', (text) => {
      const offset = line++;
      if (text.length === 0) return;
      batch.push({ topic: this.topic, partition: 0, offset, key: null, value: Buffer.from(text, 'utf8') });
      if (batch.length >= BATCH) flush();
    });
    // Lines read in one chunk arrive synchronously; hand them over once the chunk is done.
    this.stream.on('data', () => setImmediate(flush));
    this.rl.on('close', () => {
      flush();
      this.finishedResolve();
    });
  }

  pause(_: TopicPartition[]): void {
    this.pausedParts++;
    this.rl?.pause();
  }

  resume(_: TopicPartition[]): void {
    if (this.pausedParts > 0 && --this.pausedParts === 0) this.rl?.resume();
  }

  async commit(): Promise<void> {}

  async stop(): Promise<void> {
    this.rl?.close();
  }

  async close(): Promise<void> {}
}
