import { laneOf } from '../lanes/lane-router.js';
import type { DeadLetters } from '../output/dead-letters.js';
import type { Partition } from '../partitions/partition.js';
import { ValidationError } from '../shared/errors.js';
import type { RawRecord } from '../source/source.js';
import { parseEvent, type UserEvent, type ValidationLimits } from './event.js';
import type { EventInFlight } from './event-in-flight.js';

export interface IntakeOptions {
  limits: ValidationLimits;
  lanes: number;
  validationTopic: string;
  processingTopic: string;
  lateTopic: string;
  allowedLatenessMs: number;
}

/**
 * First stage after the source: skips what this instance has already taken in, validates each
 * record and checks it against its partition's watermark. Invalid and late records become dead
 * letters; valid ones, with their lane, go on to `next`.
 */
export class Intake {
  constructor(private readonly opts: IntakeOptions, private readonly deadLetters: DeadLetters, private readonly next: { push(e: EventInFlight): void }) {}

  /** Takes in records of `part` in offset order; returns how many were new. */
  take(part: Partition, records: readonly RawRecord[], now: number): number {
    const { opts } = this;
    let accepted = 0;
    for (const rec of records) {
      // After a rebalance that gives a partition back, kafkajs fetches again from the committed
      // offset; what this instance has already seen is still in flight here and is not redone.
      if (rec.offset <= part.offsets.highestSeen) continue;
      part.offsets.add(rec.offset, rec.timestamp ?? now);
      accepted++;
      let ev: UserEvent;
      try {
        ev = parseEvent(rec.value, now, opts.limits);
      } catch (err) {
        const e = err as Error;
        if (err instanceof ValidationError) this.deadLetters.emit(opts.validationTopic, rec, part, { type: 'VALIDATION_ERROR', message: e.message, field: err.field }, now);
        else this.deadLetters.emit(opts.processingTopic, rec, part, { type: 'PROCESSING_ERROR', message: e.message, stack: e.stack, attempts: 1 }, now);
        continue;
      }
      const wm = part.watermark.check(ev.timestamp_ms, now);
      if (wm >= 0) {
        this.deadLetters.emit(opts.lateTopic, rec, part, { type: 'LATE_EVENT', field: 'timestamp_ms', message: `event time ${ev.timestamp_ms} is behind the watermark ${wm} by more than the allowed lateness (${opts.allowedLatenessMs} ms)`, watermarkMs: wm }, now);
        continue;
      }
      this.next.push({ rec, ev, part, lane: laneOf(ev.user_id, opts.lanes), receivedAt: now });
    }
    return accepted;
  }
}
