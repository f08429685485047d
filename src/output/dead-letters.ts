import type { Metrics } from '../ops/metrics.js';
import type { Partition } from '../partitions/partition.js';
import type { RawRecord } from '../source/source.js';
import { deadLetter, type DeadLetterDetails } from './dead-letter.js';
import type { OutputStrategy } from './output-strategy.js';

/** Emits dead-letter records through the output strategy, in place of the input's prediction. */
export class DeadLetters {
  count = 0;

  constructor(private readonly output: OutputStrategy, private readonly metrics: Metrics) {}

  emit(topic: string, rec: RawRecord, part: Partition, d: DeadLetterDetails, now: number): void {
    this.count++;
    this.metrics.dlq.inc({ topic });
    this.output.emit(deadLetter(topic, rec, d, now), part, rec.offset);
  }
}
