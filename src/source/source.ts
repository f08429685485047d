/** The source seam: Kafka (production) or the embedded generator / NDJSON file. */

export interface RawRecord {
  topic: string;
  partition: number;
  offset: number;
  key: Buffer | null;
  value: Buffer | null;
  /** When the source stamped it (Kafka: the record timestamp), ms; for the consumer lag in seconds. Absent: receipt time. */
  timestamp?: number;
}

/** A topic-partition as one map key. */
export function tpKey(topic: string, partition: number): string {
  return `${topic}\u0000${partition}`;
}

export interface TopicPartition {
  topic: string;
  partition: number;
}

export interface SourceHandlers {
  /**
   * Records of one partition, in offset order. Must not block: work continues asynchronously.
   * `highWatermark`, when the source knows it, is the partition's end offset (for lag).
   */
  onBatch(records: RawRecord[], highWatermark?: number): void;
  /** The instance now owns exactly these partitions (after a rebalance, or at start). */
  onAssignment(partitions: TopicPartition[]): void;
  /** A rebalance began: commit what is done while this instance still owns it. */
  onRebalancing?(): void;
  /** The source hit an error it cannot recover from by itself. */
  onFatal(err: Error): void;
}

export interface Source {
  readonly kind: 'kafka' | 'generator' | 'file';
  start(handlers: SourceHandlers): Promise<void>;
  pause(partitions: TopicPartition[]): void;
  resume(partitions: TopicPartition[]): void;
  /** The group's committed offset of a partition (its earliest offset when none); exactly-once hand-over. */
  committedOffset?(tp: TopicPartition): Promise<number>;
  /** The partition's next fetch starts at `offset`. */
  seek?(tp: TopicPartition, offset: number): void;
  /** Commits `offset` (next offset to read) per partition. */
  commit(offsets: { topic: string; partition: number; offset: number }[]): Promise<void>;
  /** Stops fetching; in-flight records are the engine's to finish. */
  stop(): Promise<void>;
  close(): Promise<void>;
  /** For finite sources: resolves when every record has been delivered. */
  readonly finished?: Promise<void>;
}
