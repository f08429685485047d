import { Committer } from '../commit/committer.js';
import type { Config } from '../config/config.js';
import { FeatureStage } from '../features/feature-stage.js';
import type { FeatureStore } from '../features/feature-store.js';
import { Intake } from '../ingest/intake.js';
import { LaneDispatcher, type LaneBatch } from '../lanes/lane-dispatcher.js';
import { LanePool, type ReloadOutcome } from '../lanes/lane-pool.js';
import type { Logger } from '../ops/logger.js';
import type { Metrics } from '../ops/metrics.js';
import { DeadLetters } from '../output/dead-letters.js';
import { Predictions } from '../output/predictions.js';
import type { OutputRecord } from '../output/sink.js';
import { Backpressure } from '../partitions/backpressure.js';
import { Hold } from '../partitions/partition.js';
import { Partitions } from '../partitions/partitions.js';
import { FailureRateLimiter } from '../shared/backoff.js';
import { FeatureStoreError, errorMessage } from '../shared/errors.js';
import { readModelMeta } from '../shared/model-meta.js';
import type { RawRecord, Source, TopicPartition } from '../source/source.js';
import { laneOptions, validationLimits } from './engine-options.js';
import { selectOutput, type EngineParts, type EngineStats } from './engine-parts.js';

export type { EngineOutput, EngineParts, EngineStats } from './engine-parts.js';

/**
 * Wires the data path — source → intake → features → lanes → predictions → output, with
 * partitions, backpressure and the committer beside it — and runs its lifecycle. Each stage
 * lives in its own folder; this class only connects them.
 */
export class Engine {
  readonly lanes: LanePool<LaneBatch>;
  private readonly partitions: Partitions<OutputRecord>;
  private readonly backpressure: Backpressure;
  private readonly committer: Committer;
  private readonly deadLetters: DeadLetters;
  private readonly predictions: Predictions;
  private readonly intake: Intake;
  private readonly features: FeatureStage;
  private readonly output;
  private eventsIn = 0;
  private stopping = false;
  private assigned = false;
  private fatalHandler: (err: Error) => void = () => {};

  constructor(private readonly config: Config, private readonly parts: EngineParts, private readonly log: Logger, private readonly metrics: Metrics) {
    const c = config;
    const backoff = { initialMs: c.reconnectInitialMs, maxMs: c.reconnectMaxMs, multiplier: c.reconnectMultiplier };
    const fatal = (err: Error) => this.fatal(err);
    this.partitions = new Partitions<OutputRecord>(parts.source, c);
    this.backpressure = new Backpressure(this.partitions, { perPartition: c.maxInFlightPerPartition, total: c.maxInFlight }, metrics);
    this.output = selectOutput(parts.output, {
      partitions: this.partitions,
      source: parts.source,
      metrics,
      log,
      failures: new FailureRateLimiter(c.maxFailures, c.failureWindowMs),
      backoff,
      onDone: () => this.backpressure.check(),
      onFatal: fatal,
      stopping: () => this.stopping,
    }, c.transactionMinIntervalMs);
    this.lanes = new LanePool<LaneBatch>(laneOptions(c), {
      onResult: (batch, res) => {
        this.predictions.onLaneResult(batch, res);
        this.backpressure.check();
      },
      onRestart: (lane, err, delayMs) => {
        metrics.workerRestarts.inc();
        log.warn({ lane, err: err.message, delayMs }, 'worker crashed; replacing it and re-sending its in-flight events');
      },
      onFatal: fatal,
    });
    const dispatcher = new LaneDispatcher(this.lanes);
    this.deadLetters = new DeadLetters(c, this.output, metrics);
    this.predictions = new Predictions({ topic: c.outputTopic, fallbackPrediction: readModelMeta(c.resolvedMetaPath).fallback_prediction }, this.output, metrics, log);
    this.features = new FeatureStage(parts.featureStore, { retries: c.featureRetries }, metrics, {
      scored: (items, result) => dispatcher.dispatch(items, result.features),
      failed: (items, err, attempts) => {
        if (c.onFeatureError === 'fallback') return dispatcher.fallback(items, new FeatureStoreError(err.message, { cause: err }));
        const now = Date.now();
        for (const it of items) this.deadLetters.processingFailed(it.rec, it.part, err, attempts, now);
      },
    });
    this.intake = new Intake(validationLimits(c), this.deadLetters, this.features);
    this.committer = new Committer(this.output, this.partitions, this.backpressure, metrics, c.commitIntervalMs);
  }

  /** The source has assigned partitions and the engine is not shutting down (one of /readyz's reasons). */
  get consuming(): boolean {
    return this.assigned && !this.stopping;
  }

  get source(): Source {
    return this.parts.source;
  }

  get featureStore(): FeatureStore {
    return this.parts.featureStore;
  }

  stats(): EngineStats {
    return {
      eventsIn: this.eventsIn,
      predictions: this.predictions.count,
      fallbacks: this.predictions.fallbacks,
      deadLetters: this.deadLetters.count,
      inFlight: this.partitions.size,
      pausedPartitions: this.backpressure.pausedCount(),
      workerRestarts: this.lanes.totalRestarts,
      modelVersion: this.lanes.modelVersion,
    };
  }

  /** Called when the engine cannot go on (restart limit, send failures): the process should exit non-zero. */
  onFatal(handler: (err: Error) => void): void {
    this.fatalHandler = handler;
  }

  /** Loads the model in every lane (throws ModelLoadError naming the file), then starts consuming. */
  async start(): Promise<void> {
    await this.lanes.start();
    this.metrics.setModelVersion(this.lanes.modelVersion);
    this.metrics.workers.set(this.lanes.size);
    this.log.info({ workers: this.lanes.size, modelVersion: this.lanes.modelVersion, threads: this.lanes.laneThreadIds() }, 'model loaded in every lane');
    this.committer.start();
    await this.parts.source.start({
      onBatch: (records, hw) => this.onBatch(records, hw),
      onAssignment: (tps) => this.onAssignment(tps),
      onRebalancing: () => void this.commit(),
      onFatal: (err) => this.fatal(err),
    });
  }

  /** Fault injection for the fault suite. */
  crashWorker(lane: number): void {
    this.lanes.crashLane(lane % this.lanes.size);
  }

  /** Swaps the model in every lane between batches; a bad model is refused and the old one keeps serving. */
  async reloadModel(modelPath = this.config.modelPath, metaPath = this.config.resolvedMetaPath): Promise<ReloadOutcome> {
    const r = await this.lanes.reload(modelPath, metaPath);
    if (!r.ok) {
      this.log.error({ modelPath, error: r.error.message }, 'new model refused; the old one keeps serving');
      return r;
    }
    this.predictions.setFallback(readModelMeta(metaPath).fallback_prediction);
    this.metrics.setModelVersion(r.modelVersion);
    this.log.info({ modelVersion: r.modelVersion, modelPath }, 'model reloaded');
    return r;
  }

  /** Commits what is done now (also runs every COMMIT_INTERVAL_MS; exactly-once: see TRANSACTION_MIN_INTERVAL_MS). */
  commit(): Promise<void> {
    return this.committer.commit();
  }

  private onBatch(records: RawRecord[], highWatermark?: number): void {
    if (this.stopping) return;
    const first = records[0];
    // Records of a partition this instance does not own (a stale fetch around a rebalance) are the new owner's.
    const part = this.partitions.get(first.topic, first.partition);
    if (!part) return;
    if (highWatermark !== undefined && highWatermark > part.highWatermark) part.highWatermark = highWatermark;
    // A fetch that raced the hand-over hold: the partition restarts from its committed offset.
    if (part.held(Hold.Fencing)) return;
    const n = this.intake.take(part, records, Date.now());
    this.eventsIn += n;
    this.metrics.eventsIn.inc(n);
    this.backpressure.afterBatch(part);
    this.features.kick();
  }

  private onAssignment(tps: TopicPartition[]): void {
    const { added, revoked } = this.partitions.assign(tps);
    for (const p of revoked) this.log.info({ topic: p.topic, partition: p.partition }, 'partition revoked; its in-flight results will not be committed here');
    this.output.revoked(revoked);
    this.output.assigned(added);
    this.backpressure.updateGauge();
    this.assigned = true;
  }

  /** Graceful stop: no more fetching, finish in-flight events (bounded), commit, close everything. */
  async stop(timeoutMs = this.config.shutdownTimeoutMs): Promise<{ drained: boolean }> {
    if (this.stopping) return { drained: false };
    await this.parts.source.stop().catch((err) => this.log.warn({ err: errorMessage(err) }, 'source stop failed'));
    this.stopping = true;
    this.backpressure.stop();
    const deadline = Date.now() + timeoutMs;
    while ((this.partitions.inFlight > 0 || !this.features.idle) && Date.now() < deadline) await sleep(5);
    const drained = this.partitions.inFlight === 0;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.output.drain(), new Promise((r) => (timer = setTimeout(r, Math.max(0, deadline - Date.now()))))]);
    clearTimeout(timer);
    this.committer.stop();
    await this.commit();
    await this.commit(); // a retry of anything the first commit could not finish
    if (!drained) this.log.warn({ inFlight: this.partitions.inFlight }, 'shutdown timeout: events still in flight were not committed and will be redone after restart');
    const results = await Promise.allSettled([this.parts.source.close(), this.lanes.close(), this.output.close(), this.parts.featureStore.close()]);
    for (const r of results) if (r.status === 'rejected') this.log.warn({ err: errorMessage(r.reason) }, 'close failed');
    return { drained };
  }

  private fatal(err: Error): void {
    if (this.stopping) return;
    this.log.fatal({ err }, 'unrecoverable failure; exiting for a supervisor to restart from committed offsets');
    this.fatalHandler(err);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
