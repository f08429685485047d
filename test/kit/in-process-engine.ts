// The engine in this process, on the test seams: a ScriptedSource, an in-process (or failing)
// FeatureStore and a RecordingSink, with real worker lanes and the real model (no network).
// The ONE place tests construct an Engine: if the engine's parts change shape, only this changes.
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { Engine } from '../../src/app/engine.js';
import { parseConfig, type Config } from '../../src/config/config.js';
import type { FeatureBatch, FeatureResult, FeatureStore } from '../../src/features/feature-store.js';
import { MemoryFeatureStore } from '../../src/features/memory-feature-store.js';
import { loadFeatureSet } from '../../src/features/feature-set.js';
import { FeatureStoreError } from '../../src/shared/errors.js';
import { readModelMeta } from '../../src/shared/model-meta.js';
import { Metrics } from '../../src/ops/metrics.js';
import { RecordingSink } from './recording-sink.js';
import { ScriptedSource } from './scripted-source.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const MODEL_PATH = `${ROOT}models/model.onnx`;
export const META_PATH = `${ROOT}models/model.json`;
export const MODEL_META = readModelMeta(META_PATH);
export const FEATURE_SET = loadFeatureSet(META_PATH);

/** A feature store that fails every call (as Redis down does); counts the calls. */
export class FailingFeatureStore implements FeatureStore {
  readonly kind = 'redis' as const;
  readonly featureSet = FEATURE_SET;
  calls = 0;
  constructor(readonly available = true) {}
  async updateAndRead(_: FeatureBatch): Promise<FeatureResult> {
    this.calls++;
    throw new FeatureStoreError('scripted feature store failure');
  }
  async read(): Promise<number[] | null> {
    throw new FeatureStoreError('scripted feature store failure');
  }
  async ping(): Promise<void> {
    throw new FeatureStoreError('scripted feature store failure');
  }
  async close(): Promise<void> {}
}

export function memoryStore(config: Config): MemoryFeatureStore {
  return new MemoryFeatureStore({ ttlSeconds: config.featureTtlSeconds, featureSet: FEATURE_SET });
}

export interface InProcessOptions {
  /** Settings by env name (e.g. WORKERS: '2'); the model is always models/model.onnx. */
  env?: Record<string, string>;
  source?: ScriptedSource;
  /** Default: a MemoryFeatureStore with model.json's cold start. */
  featureStore?: FeatureStore;
  sink?: RecordingSink;
}

export interface InProcessEngine {
  engine: Engine;
  config: Config;
  source: ScriptedSource;
  sink: RecordingSink;
  featureStore: FeatureStore;
  metrics: Metrics;
  /** Value of one metric series (sum over label sets matching `labels`). */
  metric(name: string, labels?: Record<string, string>): Promise<number>;
  /**
   * Stops the engine (drain, commit, close); safe to call twice. The drain bound is short:
   * Engine.stop leaves a timer of that length pending, which keeps the test process alive.
   */
  stop(drainMs?: number): Promise<void>;
}

/** Builds and starts the engine (its lanes load the model); call stop() when done. */
export async function startInProcessEngine(o: InProcessOptions = {}): Promise<InProcessEngine> {
  const { config } = parseConfig([], { WORKERS: '1', MODEL_PATH, MODEL_META_PATH: META_PATH, LOG_LEVEL: 'silent', COMMIT_INTERVAL_MS: '20', ...o.env });
  const source = o.source ?? new ScriptedSource();
  const sink = o.sink ?? new RecordingSink();
  const featureStore = o.featureStore ?? memoryStore(config);
  // Each Metrics has its own prom-client Registry: instances in one process do not clash.
  const metrics = new Metrics();
  const log = pino({ level: 'silent' });
  const engine = new Engine(config, { source, featureStore, output: { kind: 'acked', sink } }, log, metrics);
  let fatal: Error | null = null;
  engine.onFatal((err) => (fatal = err));
  await engine.start();
  let stopped: Promise<void> | null = null;
  return {
    engine,
    config,
    source,
    sink,
    featureStore,
    metrics,
    async metric(name, labels) {
      const m = (await metrics.registry.getMetricsAsJSON()).find((x) => x.name === name);
      if (!m) throw new Error(`no metric ${name}`);
      let sum = 0;
      for (const v of m.values as { value: number; labels: Record<string, string | number> }[]) {
        if (labels && !Object.entries(labels).every(([k, want]) => String(v.labels[k]) === want)) continue;
        sum += v.value;
      }
      return sum;
    },
    stop(drainMs = 250) {
      stopped ??= (async () => {
        await engine.stop(drainMs);
        if (fatal) throw new Error(`engine reported a fatal error: ${(fatal as Error).message}`);
      })();
      return stopped;
    },
  };
}
