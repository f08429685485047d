/** The sink seam: Kafka (production) or NDJSON streams (embedded default). */

export interface OutputRecord {
  topic: string;
  key: string | Buffer | null;
  value: string | Buffer;
  headers?: Record<string, string>;
}

export interface Sink {
  /** Writes records in order; resolves once they are durable (Kafka acked / stream flushed). */
  send(records: OutputRecord[]): Promise<void>;
  close(): Promise<void>;
}
