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

/**
 * Value bytes per produce request. kafkajs puts a partition's records of one request in one
 * record batch, which must stay under the broker's message.max.bytes (1 MiB by default).
 */
export const MAX_BYTES_PER_SEND = 256 * 1024;

/** How many items from `start` fit one send (at least one, so an oversized record still goes alone). */
export function sendSize<T>(items: readonly T[], start: number, valueLength: (item: T) => number, maxBytes = MAX_BYTES_PER_SEND): number {
  let k = start;
  let bytes = 0;
  while (k < items.length && (k === start || bytes < maxBytes)) bytes += valueLength(items[k++]) + 64;
  return k - start;
}
