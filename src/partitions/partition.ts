import { Watermark } from './watermark.js';
import type { TopicPartition } from '../source/source.js';
import { PartitionOffsets } from './partition-offsets.js';

/** Why a partition's fetching is held (bits); it fetches only while nothing holds it. */
export const Hold = {
  /** Too many of its (or all partitions') events are in flight. */
  Backpressure: 1,
  /** Exactly-once hand-over: waiting until its producer fenced the previous owner. */
  Fencing: 2,
} as const;
export type Hold = (typeof Hold)[keyof typeof Hold];

/**
 * Everything this instance keeps about one assigned input partition, in one place: offsets in
 * flight, the watermark, why fetching is held, the offset waiting to be committed, and the
 * per-partition strings every event of it would otherwise build again.
 */
export class Partition<P = unknown> {
  /** `P`: what a done offset may carry until it is released for commit (exactly-once: its output). */
  readonly offsets = new PartitionOffsets<P>();
  readonly watermark: Watermark;
  /** The replay guard's scope in the feature store, and the lineage in outputs. */
  readonly source: string;
  readonly tp: TopicPartition;
  /** Metric labels of this partition. */
  readonly labels: { topic: string; partition: string };
  /** The start of an output's lineage (`,"source":{..."offset":`), ready for the offset. */
  readonly lineageJson: string;
  /** Bit set of Hold reasons. */
  holds = 0;
  /** At-least-once: the next offset to commit, waiting for the commit request (-1: none). */
  pendingCommit = -1;
  /** End offset as last reported by the source (-1: unknown). */
  highWatermark = -1;
  /** False once revoked: results still arriving for it go nowhere. */
  owned = true;
  /**
   * Exactly-once: another instance's producer fenced this partition's, so what this instance
   * holds of it is void. An assignment that lists it again replaces it with a fresh Partition.
   */
  superseded = false;

  constructor(readonly topic: string, readonly partition: number, watermark: Watermark) {
    this.source = `${topic}:${partition}`;
    this.tp = { topic, partition };
    this.labels = { topic, partition: String(partition) };
    this.lineageJson = `,"source":{"topic":${JSON.stringify(topic)},"partition":${partition},"offset":`;
    this.watermark = watermark;
  }

  held(reason: Hold): boolean {
    return (this.holds & reason) !== 0;
  }
}
