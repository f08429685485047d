import type { Rejects } from '../ingest/intake.js';
import type { Metrics } from '../ops/metrics.js';
import type { Partition } from '../partitions/partition.js';
import { ValidationError } from '../shared/errors.js';
import type { RawRecord } from '../source/source.js';
import { deadLetter, type DeadLetterDetails } from './dead-letter.js';
import type { OutputStrategy } from './output-strategy.js';

export interface DeadLetterTopics {
  validationTopic: string;
  processingTopic: string;
  lateTopic: string;
  /** Named in a late event's message. */
  allowedLatenessMs: number;
}

/**
 * Emits dead-letter records through the output strategy, in place of the input's prediction:
 * what the intake rejects, and events whose features stayed unavailable (ON_FEATURE_ERROR=dlq).
 */
export class DeadLetters implements Rejects {
  count = 0;

  constructor(private readonly topics: DeadLetterTopics, private readonly output: OutputStrategy, private readonly metrics: Metrics) {}

  invalid(rec: RawRecord, part: Partition, err: Error, now: number): void {
    if (err instanceof ValidationError) this.emit(this.topics.validationTopic, rec, part, { type: 'VALIDATION_ERROR', message: err.message, field: err.field }, now);
    else this.processingFailed(rec, part, err, 1, now);
  }

  late(rec: RawRecord, part: Partition, eventTimeMs: number, watermarkMs: number, now: number): void {
    const message = `event time ${eventTimeMs} is behind the watermark ${watermarkMs} by more than the allowed lateness (${this.topics.allowedLatenessMs} ms)`;
    this.emit(this.topics.lateTopic, rec, part, { type: 'LATE_EVENT', field: 'timestamp_ms', message, watermarkMs }, now);
  }

  processingFailed(rec: RawRecord, part: Partition, err: Error, attempts: number, now: number): void {
    this.emit(this.topics.processingTopic, rec, part, { type: 'PROCESSING_ERROR', message: err.message, stack: err.stack, attempts }, now);
  }

  private emit(topic: string, rec: RawRecord, part: Partition, d: DeadLetterDetails, now: number): void {
    this.count++;
    this.metrics.dlq.inc({ topic });
    this.output.emit(deadLetter(topic, rec, d, now), part, rec.offset);
  }
}
