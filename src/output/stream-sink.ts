import { createWriteStream } from 'node:fs';
import type { Writable } from 'node:stream';
import type { OutputRecord, Sink } from './sink.js';

/**
 * Embedded default sink: predictions as NDJSON on one stream (stdout or a file), dead-letter
 * records on another (stderr or a file), each line `{"topic": ..., ...record}`.
 */
export class StreamSink implements Sink {
  private readonly out: Writable;
  private readonly dlq: Writable;

  constructor(private readonly predictionTopic: string, outPath: string, dlqPath: string) {
    this.out = outPath ? createWriteStream(outPath, { flags: 'a' }) : process.stdout;
    this.dlq = dlqPath ? createWriteStream(dlqPath, { flags: 'a' }) : process.stderr;
  }

  async send(records: OutputRecord[]): Promise<void> {
    let out = '';
    let dlq = '';
    for (const r of records) {
      const v = typeof r.value === 'string' ? r.value : r.value.toString('utf8');
      if (r.topic === this.predictionTopic) out += v + '\n';
      else dlq += `{"topic":${JSON.stringify(r.topic)},"record":${v}}\n`;
    }
    await Promise.all([out && write(this.out, out), dlq && write(this.dlq, dlq)]);
  }

  async close(): Promise<void> {
    await Promise.all(
      [this.out, this.dlq].map((s) => (s === process.stdout || s === process.stderr ? Promise.resolve() : new Promise<void>((r) => s.end(r)))),
    );
  }
}

function write(s: Writable, chunk: string): Promise<void> {
  return new Promise((resolve, reject) => {
    s.write(chunk, (err) => (err ? reject(err) : resolve()));
  });
}
