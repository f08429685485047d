import { AtLeastOnceOutput } from '../output/at-least-once.js';
import { ExactlyOnceOutput, type Transactions } from '../output/exactly-once.js';
import type { OutputContext, OutputStrategy } from '../output/output-strategy.js';
import type { Sink } from '../output/sink.js';
import type { FeatureStore } from '../features/feature-store.js';
import type { Source } from '../source/source.js';
import { GROUP_SESSION_TIMEOUT_MS } from '../source/kafka-source.js';

/** The output the composition root built: a sink (acknowledged writes) or per-partition transactions. */
export type EngineOutput = { kind: 'acked'; sink: Sink } | { kind: 'transactional'; tx: Transactions };

/** The seams the composition root chose (see compose.ts). */
export interface EngineParts {
  source: Source;
  featureStore: FeatureStore;
  output: EngineOutput;
}

export interface EngineStats {
  eventsIn: number;
  predictions: number;
  fallbacks: number;
  deadLetters: number;
  inFlight: number;
  pausedPartitions: number;
  workerRestarts: number;
  modelVersion: string;
}

/** The delivery guarantee's strategy for the output that was built. */
export function selectOutput(output: EngineOutput, ctx: OutputContext, transactionMinIntervalMs?: number): OutputStrategy {
  if (output.kind === 'acked') return new AtLeastOnceOutput(output.sink, ctx);
  return new ExactlyOnceOutput(output.tx, ctx, { minCommitIntervalMs: transactionMinIntervalMs, retakeAfterMs: GROUP_SESSION_TIMEOUT_MS });
}
