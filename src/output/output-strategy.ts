import type { Logger } from '../ops/logger.js';
import type { Metrics } from '../ops/metrics.js';
import type { Partition } from '../partitions/partition.js';
import type { Partitions } from '../partitions/partitions.js';
import type { BackoffOptions, FailureRateLimiter } from '../shared/backoff.js';
import type { Source } from '../source/source.js';
import type { OutputRecord } from './sink.js';

/**
 * One delivery guarantee: how outputs are written and how input offsets are committed.
 * The engine emits every input's output (prediction or dead letter) and ticks commit(); it
 * never asks which guarantee it runs.
 */
export interface OutputStrategy {
  readonly guarantee: 'at-least-once' | 'exactly-once';
  /** The output of input `offset` of `part`; the offset is done once the output is durable (or staged). */
  emit(record: OutputRecord, part: Partition, offset: number): void;
  /** Partitions this instance now owns for the first time. */
  assigned(added: readonly Partition[]): void;
  /** Partitions it no longer owns: nothing more is committed for them here. */
  revoked(removed: readonly Partition[]): void;
  /**
   * Commits what is done; the committer never calls it concurrently. It releases the done
   * offsets synchronously, before its first await (the committer reads the gauges right after).
   */
  commit(): Promise<void>;
  /**
   * Set by a strategy whose commit makes outputs visible (exactly-once): the committer then
   * commits again this long after the previous commit finished (when something new is
   * committable), instead of every COMMIT_INTERVAL_MS. Undefined: a fixed COMMIT_INTERVAL_MS tick.
   */
  readonly minCommitIntervalMs?: number;
  /** With minCommitIntervalMs: after failed commits, the next one waits at least this long (0: no failure). */
  readonly retryDelayMs?: number;
  /** Set by the committer when minCommitIntervalMs is: the strategy calls it when it has something new to commit. */
  onCommittable?: () => void;
  /** Resolves once every output emitted so far is written or staged. */
  drain(): Promise<void>;
  close(): Promise<void>;
}

/** What a strategy needs from the engine. */
export interface OutputContext {
  partitions: Partitions<OutputRecord>;
  source: Source;
  metrics: Metrics;
  log: Logger;
  /** Shared with the other failure sources: too many failures in the window is fatal. */
  failures: FailureRateLimiter;
  backoff: BackoffOptions;
  /** Some in-flight offsets became done (backpressure may resume). */
  onDone(): void;
  onFatal(err: Error): void;
  stopping(): boolean;
}
