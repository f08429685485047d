import type { Partition } from '../partitions/partition.js';
import type { RawRecord } from '../source/source.js';
import { parseEvent, type UserEvent, type ValidationLimits } from './event.js';
import type { EventInFlight } from './event-in-flight.js';

/** Where the intake sends what it does not pass on (the output stage's dead letters). */
export interface Rejects {
  /** Not a valid event: a ValidationError naming the field, or any other error while parsing. */
  invalid(rec: RawRecord, part: Partition, err: Error, now: number): void;
  /** Behind its partition's watermark by more than the allowed lateness. */
  late(rec: RawRecord, part: Partition, eventTimeMs: number, watermarkMs: number, now: number): void;
}

/**
 * First stage after the source: skips what this instance has already taken in, validates each
 * record and checks it against its partition's watermark. Invalid and late records become dead
 * letters; valid ones, with their lane, go on to `next`.
 */
export class Intake {
  constructor(private readonly limits: ValidationLimits, private readonly rejects: Rejects, private readonly next: { push(e: EventInFlight): void }) {}

  /** Takes in records of `part` in offset order; returns how many were new. */
  take(part: Partition, records: readonly RawRecord[], now: number): number {
    let accepted = 0;
    for (const rec of records) {
      // After a rebalance that gives a partition back, kafkajs fetches again from the committed
      // offset; what this instance has already seen is still in flight here and is not redone.
      if (rec.offset <= part.offsets.highestSeen) continue;
      part.offsets.add(rec.offset, rec.timestamp ?? now);
      accepted++;
      let ev: UserEvent;
      try {
        ev = parseEvent(rec.value, now, this.limits);
      } catch (err) {
        this.rejects.invalid(rec, part, err as Error, now);
        continue;
      }
      const wm = part.watermark.check(ev.timestamp_ms, now);
      if (wm >= 0) {
        this.rejects.late(rec, part, ev.timestamp_ms, wm, now);
        continue;
      }
      this.next.push({ rec, ev, part, receivedAt: now });
    }
    return accepted;
  }
}
