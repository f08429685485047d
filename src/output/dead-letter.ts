import { isUtf8 } from 'node:buffer';
import type { RawRecord } from '../source/source.js';
import type { OutputRecord } from './sink.js';

export type DeadLetterType = 'VALIDATION_ERROR' | 'PROCESSING_ERROR' | 'LATE_EVENT';

export interface DeadLetterDetails {
  type: DeadLetterType;
  message: string;
  field?: string;
  stack?: string;
  attempts?: number;
  watermarkMs?: number;
}

/**
 * A DLQ record keeps the original value exactly as received (text when it is valid UTF-8,
 * else base64) and says where it came from, in the value and, like Karafka's enhanced DLQ,
 * in headers that tooling can filter on without parsing: `x-error-type` and
 * `x-source` = `topic/partition/offset` (topic names cannot contain '/'). Two headers, not one
 * per field: kafkajs spends ~4 µs of main-thread time encoding each header.
 */
export function deadLetter(topic: string, rec: RawRecord, d: DeadLetterDetails, nowMs: number): OutputRecord {
  let original: string | null = null;
  let encoding: 'utf8' | 'base64' = 'utf8';
  if (rec.value) {
    if (isUtf8(rec.value)) original = rec.value.toString('utf8');
    else {
      original = rec.value.toString('base64');
      encoding = 'base64';
    }
  }
  const body: Record<string, unknown> = {
    original_event: original,
    original_encoding: encoding,
    error_type: d.type,
    message: d.message,
    field: d.field,
    source: { topic: rec.topic, partition: rec.partition, offset: rec.offset },
    timestamp: nowMs,
  };
  if (d.stack) body.stack_trace = d.stack;
  if (d.attempts !== undefined) body.attempts = d.attempts;
  if (d.watermarkMs !== undefined) body.watermark_ms = d.watermarkMs;
  return { topic, key: rec.key, value: JSON.stringify(body), headers: { 'x-error-type': d.type, 'x-source': `${rec.topic}/${rec.partition}/${rec.offset}` } };
}
