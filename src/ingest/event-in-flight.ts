import type { Partition } from '../partitions/partition.js';
import type { RawRecord } from '../source/source.js';
import type { UserEvent } from './event.js';

/** A valid, on-time event on its way through features and a lane to its output. */
export interface EventInFlight {
  rec: RawRecord;
  ev: UserEvent;
  part: Partition;
  /** Wall-clock ms when it was taken in (end-to-end latency). */
  receivedAt: number;
}
