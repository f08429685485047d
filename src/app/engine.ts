import { AckedOutput } from '../output/acked-output.js';
import { FailureRateLimiter, backoffDelay, type BackoffOptions } from '../shared/backoff.js';
import type { Config } from '../config/config.js';
import { deadLetter, type DeadLetterDetails } from '../output/dead-letter.js';
import { FeatureStoreError, ValidationError, errorMessage } from '../shared/errors.js';
import { EVENT_TYPE_CODE, parseEvent, type UserEvent, type ValidationLimits } from '../ingest/event.js';
import { FEATURES_PER_EVENT, newFeatureBatch, type FeatureResult, type FeatureStore } from '../features/feature-store.js';
import { LanePool, type LaneResult, type ReloadOutcome } from '../lanes/lane-pool.js';
import { laneOf } from '../lanes/lane-router.js';
import type { Logger } from '../ops/logger.js';
import type { Metrics } from '../ops/metrics.js';
import { OffsetTracker, tpKey, type PartitionOffsets } from '../partitions/offset-tracker.js';
import type { OutputRecord, Sink } from '../output/sink.js';
import type { RawRecord, Source, TopicPartition } from '../source/source.js';
import type { TransactionalOutput } from '../output/transactional-output.js';
import { Watermarks } from '../ingest/watermark.js';

/** One valid event on its way through features and a lane. */
interface Item {
  rec: RawRecord;
  ev: UserEvent;
  part: PartitionOffsets<OutputRecord>;
  lane: number;
  receivedAt: number;
}

interface Dispatch {
  items: Item[];
  reason?: 'feature_store' | 'model';
}

export type EngineOutput = { kind: 'acked'; sink: Sink } | { kind: 'transactional'; tx: TransactionalOutput };

export interface EngineParts {
  source: Source;
  featureStore: FeatureStore;
  output: EngineOutput;
}

/** Largest feature call; bigger queues are split so one Lua call never blocks Redis for long. */
const MAX_FEATURE_BATCH = 1024;

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

/**
 * The main thread's data path: source → validation/lateness → feature store (one call per
 * batch, in order) → lanes (one worker per lane, users hashed to lanes) → output, with offsets
 * tracked per partition and committed only below the first unfinished one.
 */
export class Engine {
  readonly lanes: LanePool<Dispatch>;
  private readonly tracker = new OffsetTracker<OutputRecord>();
  private readonly watermarks: Watermarks;
  private readonly limits: ValidationLimits;
  private readonly acked: AckedOutput | null;
  private readonly failures: FailureRateLimiter;
  private readonly backoff: BackoffOptions;
  private readonly paused = new Map<string, TopicPartition>();
  /** Exactly-once: newly assigned partitions held paused until their producer fenced the previous owner (see fence()). */
  private readonly fencing = new Set<string>();
  private readonly pendingCommits = new Map<string, { topic: string; partition: number; offset: number }>();
  private featureQueue: Item[] = [];
  private featureBusy = false;
  private commitTimer: NodeJS.Timeout | null = null;
  private committing: Promise<void> | null = null;
  private stopping = false;
  private assigned = false;
  private fatalHandler: (err: Error) => void = () => {};
  private readonly counts = { eventsIn: 0, predictions: 0, fallbacks: 0, deadLetters: 0 };
  private inFlightMax = 0;

  constructor(
    private readonly config: Config,
    private readonly parts: EngineParts,
    private readonly log: Logger,
    private readonly metrics: Metrics,
  ) {
    this.watermarks = new Watermarks(config.outOfOrdernessMs, config.allowedLatenessMs);
    this.limits = {
      maxMessageBytes: config.maxMessageBytes,
      maxFieldLength: 256,
      minTimestampMs: Date.UTC(2000, 0, 1),
      maxFutureSkewMs: 24 * 3600 * 1000,
    };
    this.backoff = { initialMs: config.reconnectInitialMs, maxMs: config.reconnectMaxMs, multiplier: config.reconnectMultiplier };
    this.failures = new FailureRateLimiter(config.maxFailures, config.failureWindowMs);
    this.lanes = new LanePool<Dispatch>(
      {
        workers: config.workers,
        modelPath: config.modelPath,
        metaPath: config.resolvedMetaPath,
        maxBatch: config.maxBatch,
        maxWaitUs: config.maxWaitUs,
        restartBackoff: { initialMs: 10, maxMs: config.reconnectMaxMs, multiplier: 2 },
        maxRestarts: config.maxFailures,
        restartWindowMs: config.failureWindowMs,
      },
      {
        onResult: (ctx, res) => this.onLaneResult(ctx, res),
        onRestart: (lane, err, delayMs) => {
          this.metrics.workerRestarts.inc();
          this.log.warn({ lane, err: err.message, delayMs }, 'worker crashed; replacing it and re-sending its in-flight events');
        },
        onFatal: (err) => this.fatal(err),
      },
    );
    this.acked =
      parts.output.kind === 'acked'
        ? new AckedOutput(parts.output.sink, this.backoff, {
            onDone: () => this.checkResume(),
            onSendFailure: (err, attempt) => {
              this.metrics.sendFailures.inc();
              this.log.warn({ err: err.message, attempt }, 'output send failed; retrying');
              return this.failures.record();
            },
            onFatal: (err) => this.fatal(err),
          })
        : null;
  }

  get ready(): boolean {
    return this.assigned && this.lanes.allReady && this.parts.featureStore.available && !this.stopping;
  }

  /** The source has assigned partitions and the engine is not shutting down (one of /readyz's reasons). */
  get consuming(): boolean {
    return this.assigned && !this.stopping;
  }

  get modelVersion(): string {
    return this.lanes.modelVersion;
  }

  get source(): Source {
    return this.parts.source;
  }

  get featureStore(): FeatureStore {
    return this.parts.featureStore;
  }

  stats(): EngineStats {
    return {
      ...this.counts,
      inFlight: this.tracker.size,
      pausedPartitions: this.paused.size,
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
    this.commitTimer = setInterval(() => void this.commit(), this.config.commitIntervalMs);
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
    if (r.ok) {
      this.metrics.setModelVersion(r.modelVersion);
      this.log.info({ modelVersion: r.modelVersion, modelPath }, 'model reloaded');
      return r;
    }
    this.log.error({ modelPath, error: r.error.message }, 'new model refused; the old one keeps serving');
    return r;
  }

  // ---- input ----

  private onBatch(records: RawRecord[], highWatermark?: number): void {
    if (this.stopping) return;
    const now = Date.now();
    const first = records[0];
    const part = this.tracker.partition(first.topic, first.partition);
    // Records of a partition this instance does not own (a stale fetch around a rebalance) are the new owner's.
    if (!part) return;
    if (highWatermark !== undefined && highWatermark > part.highWatermark) part.highWatermark = highWatermark;
    const wmKey = tpKey(first.topic, first.partition);
    // A fetch that raced the hand-over pause: the partition restarts from its committed offset.
    if (this.fencing.has(wmKey)) return;
    const lanes = this.lanes.size;
    let accepted = 0;
    for (const rec of records) {
      // After a rebalance that gives a partition back, kafkajs fetches again from the committed
      // offset; what this instance has already seen is still in flight here and is not redone.
      if (rec.offset <= part.highestSeen) continue;
      part.add(rec.offset);
      accepted++;
      let ev: UserEvent;
      try {
        ev = parseEvent(rec.value, now, this.limits);
      } catch (err) {
        const e = err as Error;
        if (err instanceof ValidationError) this.emitDeadLetter(this.config.validationTopic, rec, part, { type: 'VALIDATION_ERROR', message: e.message, field: err.field }, now);
        else this.emitDeadLetter(this.config.processingTopic, rec, part, { type: 'PROCESSING_ERROR', message: e.message, stack: e.stack, attempts: 1 }, now);
        continue;
      }
      const wm = this.watermarks.check(wmKey, ev.timestamp_ms, now);
      if (wm >= 0) {
        this.emitDeadLetter(this.config.lateTopic, rec, part, { type: 'LATE_EVENT', field: 'timestamp_ms', message: `event time ${ev.timestamp_ms} is behind the watermark ${wm} by more than the allowed lateness (${this.config.allowedLatenessMs} ms)`, watermarkMs: wm }, now);
        continue;
      }
      this.featureQueue.push({ rec, ev, part, lane: laneOf(ev.user_id, lanes), receivedAt: now });
    }
    this.counts.eventsIn += accepted;
    this.metrics.eventsIn.inc(accepted);
    this.applyBackpressure(first.topic, first.partition, part);
    this.kickFeatures();
  }

  private onAssignment(tps: TopicPartition[]): void {
    const next = new Set(tps.map((p) => tpKey(p.topic, p.partition)));
    // kafkajs keeps a partition's paused flag across assignments: clear it for every partition
    // this instance does not consider paused, or one revoked while paused and later re-assigned
    // would never be fetched again.
    const unpause: TopicPartition[] = [];
    for (const { topic, partition } of this.tracker.partitions()) {
      const key = tpKey(topic, partition);
      if (next.has(key)) continue;
      this.tracker.revoke(topic, partition);
      this.watermarks.forget(key);
      if (this.paused.delete(key) || this.fencing.delete(key)) unpause.push({ topic, partition });
      this.pendingCommits.delete(key);
      if (this.parts.output.kind === 'transactional') this.parts.output.tx.revoke(topic, partition);
      this.log.info({ topic, partition }, 'partition revoked; its in-flight results will not be committed here');
    }
    const fence: TopicPartition[] = [];
    for (const { topic, partition } of tps) {
      const isNew = !this.tracker.owns(topic, partition);
      this.tracker.assign(topic, partition);
      if (this.parts.output.kind === 'transactional' && isNew) fence.push({ topic, partition });
      else if (!this.paused.has(tpKey(topic, partition)) && !this.fencing.has(tpKey(topic, partition))) unpause.push({ topic, partition });
    }
    if (unpause.length) this.parts.source.resume(unpause);
    if (fence.length) {
      this.parts.source.pause(fence);
      for (const tp of fence) this.fence(tp);
    }
    this.metrics.paused.set(this.paused.size);
    this.assigned = true;
  }

  /**
   * Exactly-once hand-over of a newly assigned partition: it stays paused until its
   * transactional producer is initialised, which commits or aborts the previous owner's open
   * transaction and fences that owner; only then is the committed offset read and fetching
   * started there. kafkajs reads the committed offset as soon as the assignment arrives, and a
   * transaction of the previous owner still committing at that moment would have its outputs
   * produced a second time (kafkajs has no KIP-447 generation check).
   */
  private fence(tp: TopicPartition, attempt = 0): void {
    const out = this.parts.output;
    if (out.kind !== 'transactional') return;
    const key = tpKey(tp.topic, tp.partition);
    const part = this.tracker.partition(tp.topic, tp.partition);
    const src = this.parts.source;
    const current = () => !this.stopping && part !== undefined && this.tracker.partition(tp.topic, tp.partition) === part;
    this.fencing.add(key);
    out.tx
      .assign(tp.topic, tp.partition)
      .then(() => (src.committedOffset ? src.committedOffset(tp) : -1))
      .then(
        (offset) => {
          if (!current()) return;
          if (offset >= 0) src.seek?.(tp, offset);
          this.fencing.delete(key);
          if (!this.paused.has(key)) src.resume([tp]);
          this.log.info({ topic: tp.topic, partition: tp.partition, offset }, 'partition fenced; consuming from its committed offset');
        },
        (err: Error) => {
          if (!current()) return;
          this.metrics.sendFailures.inc();
          this.log.warn({ err: errorMessage(err), partition: tp.partition, attempt }, 'transactional producer not ready; retrying the hand-over');
          if (this.failures.record()) return this.fatal(err);
          out.tx.revoke(tp.topic, tp.partition);
          setTimeout(() => this.fence(tp, attempt + 1), backoffDelay(this.backoff, attempt)).unref();
        },
      );
  }

  // ---- features ----

  private kickFeatures(): void {
    if (this.featureBusy || this.featureQueue.length === 0) return;
    this.featureBusy = true;
    void this.runFeatures();
  }

  /**
   * One feature call at a time, in arrival order: events queued meanwhile join the next call,
   * so batches grow with load, and a retry can never let a later batch overtake an earlier one.
   */
  private async runFeatures(): Promise<void> {
    const store = this.parts.featureStore;
    while (this.featureQueue.length > 0) {
      const items = this.featureQueue.length <= MAX_FEATURE_BATCH ? this.featureQueue : this.featureQueue.slice(0, MAX_FEATURE_BATCH);
      this.featureQueue = items === this.featureQueue ? [] : this.featureQueue.slice(MAX_FEATURE_BATCH);
      const batch = newFeatureBatch(items.length);
      for (let i = 0; i < items.length; i++) {
        const it = items[i];
        batch.userIds[i] = it.ev.user_id;
        batch.codes[i] = EVENT_TYPE_CODE[it.ev.event_type];
        batch.timestamps[i] = it.ev.timestamp_ms;
        batch.sources[i] = `${it.rec.topic}:${it.rec.partition}`;
        batch.offsets[i] = it.rec.offset;
      }
      let result: FeatureResult | null = null;
      let error: Error | null = null;
      let attempts = 0;
      for (;;) {
        attempts++;
        try {
          result = await store.updateAndRead(batch);
          break;
        } catch (err) {
          error = err as Error;
          this.metrics.featureErrors.inc();
          if (attempts > this.config.featureRetries || !store.available) break;
          await sleep(backoffDelay({ initialMs: 5, maxMs: 100, multiplier: 2 }, attempts - 1));
        }
      }
      if (result) this.dispatch(items, result);
      else this.featureFailure(items, error!, attempts);
    }
    this.featureBusy = false;
  }

  private dispatch(items: Item[], result: FeatureResult): void {
    const n = items.length;
    let replays = 0;
    for (let i = 0; i < n; i++) replays += result.replayed[i];
    if (replays) this.metrics.replays.inc(replays);
    const lanes = this.lanes.size;
    if (lanes === 1) {
      this.lanes.dispatch(0, result.features, n, { items });
      return;
    }
    const counts = new Uint32Array(lanes);
    for (let i = 0; i < n; i++) counts[items[i].lane]++;
    const perLane: { features: Float32Array; items: Item[]; at: number }[] = [];
    for (let l = 0; l < lanes; l++) perLane.push({ features: new Float32Array(counts[l] * FEATURES_PER_EVENT), items: [], at: 0 });
    const src = result.features;
    for (let i = 0; i < n; i++) {
      const it = items[i];
      const d = perLane[it.lane];
      d.features.set(src.subarray(i * FEATURES_PER_EVENT, (i + 1) * FEATURES_PER_EVENT), d.at);
      d.at += FEATURES_PER_EVENT;
      d.items.push(it);
    }
    for (let l = 0; l < lanes; l++) if (counts[l]) this.lanes.dispatch(l, perLane[l].features, counts[l], { items: perLane[l].items });
  }

  private featureFailure(items: Item[], err: Error, attempts: number): void {
    if (this.config.onFeatureError === 'dlq') {
      const now = Date.now();
      for (const it of items) this.emitDeadLetter(this.config.processingTopic, it.rec, it.part, { type: 'PROCESSING_ERROR', message: err.message, stack: err.stack, attempts }, now);
      return;
    }
    // Fallback results still pass through their lane's ordered release, behind that lane's
    // in-flight work, so a user's outputs stay in input order.
    const byLane = new Map<number, Item[]>();
    for (const it of items) (byLane.get(it.lane) ?? byLane.set(it.lane, []).get(it.lane)!).push(it);
    for (const [lane, its] of byLane) {
      this.lanes.completeLocally(lane, its.length, { items: its, reason: 'feature_store' }, { probs: null, error: new FeatureStoreError(err.message, { cause: err }), modelVersion: this.lanes.modelVersion, inferUs: 0, batchRows: 0 });
    }
  }

  // ---- output ----

  private onLaneResult(ctx: Dispatch, res: LaneResult): void {
    const now = Date.now();
    const items = ctx.items;
    const probs = res.probs;
    const fallback = probs === null;
    const fallbackValue = 0.5;
    const topic = this.config.outputTopic;
    for (let i = 0; i < items.length; i++) {
      const it = items[i];
      const value = JSON.stringify({
        user_id: it.ev.user_id,
        product_id: it.ev.product_id,
        prediction: fallback ? fallbackValue : probs[i],
        event_time: it.ev.timestamp_ms,
        processing_time: now,
        model_version: res.modelVersion,
        fallback,
        // Lineage in the value, not in headers: kafkajs's header encoding costs more main-thread
        // time per record (~11 µs for three) than the rest of the record together.
        source: { topic: it.rec.topic, partition: it.rec.partition, offset: it.rec.offset },
      });
      this.emit({ topic, key: it.ev.user_id, value }, it.part, it.rec.offset);
      this.metrics.endToEnd.observe((now - it.receivedAt) / 1000);
    }
    this.counts.predictions += items.length;
    this.metrics.predictions.inc(items.length);
    if (fallback) {
      const reason = ctx.reason ?? 'model';
      if (reason === 'model') this.log.warn({ err: res.error?.message, rows: items.length }, 'inference failed; using the fallback prediction');
      this.counts.fallbacks += items.length;
      this.metrics.fallbacks.inc({ reason }, items.length);
    } else if (res.batchRows) {
      this.metrics.inference.observe(res.inferUs / 1e6);
      this.metrics.batchSize.observe(res.batchRows);
    }
    if (this.parts.output.kind === 'transactional') this.checkResume();
  }

  private emitDeadLetter(topic: string, rec: RawRecord, part: PartitionOffsets<OutputRecord>, d: DeadLetterDetails, now: number): void {
    this.counts.deadLetters++;
    this.metrics.dlq.inc({ topic });
    this.emit(deadLetter(topic, rec, d, now), part, rec.offset);
  }

  private emit(record: OutputRecord, part: PartitionOffsets<OutputRecord>, offset: number): void {
    if (this.acked) this.acked.emit(record, part, offset);
    else if (this.parts.output.kind === 'transactional') this.parts.output.tx.emit(record, part, offset);
  }

  // ---- backpressure ----

  private applyBackpressure(topic: string, partition: number, part: PartitionOffsets<OutputRecord>): void {
    const key = tpKey(topic, partition);
    if (!this.paused.has(key) && part.inFlight >= this.config.maxInFlightPerPartition) {
      this.paused.set(key, { topic, partition });
      this.parts.source.pause([{ topic, partition }]);
    }
    const total = this.totalInFlight();
    // Right after a batch is when in-flight peaks; the commit-tick gauge would miss it.
    if (total > this.inFlightMax) this.metrics.inFlightMax.set((this.inFlightMax = total));
    if (total >= this.config.maxInFlight) {
      const all = this.tracker.partitions().filter((p) => !this.paused.has(tpKey(p.topic, p.partition)));
      for (const p of all) this.paused.set(tpKey(p.topic, p.partition), { topic: p.topic, partition: p.partition });
      if (all.length) this.parts.source.pause(all.map((p) => ({ topic: p.topic, partition: p.partition })));
    }
    this.metrics.paused.set(this.paused.size);
  }

  /** Resumes paused partitions once they (and the total) drained to half their bound. */
  private checkResume(): void {
    if (this.paused.size === 0 || this.stopping) return;
    if (this.totalInFlight() > this.config.maxInFlight / 2) return;
    const resume: TopicPartition[] = [];
    for (const [key, tp] of this.paused) {
      const part = this.tracker.partition(tp.topic, tp.partition);
      if (!part || part.inFlight <= this.config.maxInFlightPerPartition / 2) {
        this.paused.delete(key);
        if (part && !this.fencing.has(key)) resume.push(tp);
      }
    }
    if (resume.length) this.parts.source.resume(resume);
    this.metrics.paused.set(this.paused.size);
  }

  private totalInFlight(): number {
    let s = 0;
    for (const p of this.tracker.partitions()) s += p.offsets.inFlight;
    return s;
  }

  // ---- commits ----

  /** Commits what is done; never overlaps itself. */
  commit(): Promise<void> {
    if (!this.committing) {
      this.committing = this.commitOnce().finally(() => {
        this.committing = null;
      });
    }
    return this.committing;
  }

  private async commitOnce(): Promise<void> {
    const entries = this.tracker.takeCommittable();
    this.metrics.inFlight.set(this.tracker.size);
    this.updateLag();
    this.checkResume();
    if (this.parts.output.kind === 'transactional') {
      const { failed } = await this.parts.output.tx.commit(entries);
      if (entries.length && failed.length < entries.length) this.metrics.commits.inc();
      for (const err of failed) {
        this.metrics.sendFailures.inc();
        this.log.warn({ err: err.message }, 'transaction failed; retrying at the next commit');
        if (this.failures.record()) return this.fatal(err);
      }
      return;
    }
    for (const e of entries) this.pendingCommits.set(tpKey(e.topic, e.partition), { topic: e.topic, partition: e.partition, offset: e.offset });
    if (this.pendingCommits.size === 0) return;
    // Only partitions still owned: a commit for a revoked one would overwrite its new owner's.
    const batch = [...this.pendingCommits.values()].filter((c) => this.tracker.owns(c.topic, c.partition));
    this.pendingCommits.clear();
    try {
      await this.parts.source.commit(batch);
      this.metrics.commits.inc();
    } catch (err) {
      for (const c of batch) {
        const key = tpKey(c.topic, c.partition);
        if (!this.pendingCommits.has(key) && this.tracker.owns(c.topic, c.partition)) this.pendingCommits.set(key, c);
      }
      this.log.warn({ err: errorMessage(err) }, 'offset commit failed; retrying at the next interval');
    }
  }

  private updateLag(): void {
    for (const { topic, partition, offsets } of this.tracker.partitions()) {
      if (offsets.highestSeen < 0) continue;
      // Broker end offset when known (Kafka), else what was received: minus the next offset to commit.
      const end = Math.max(offsets.highWatermark, offsets.highestSeen + 1);
      this.metrics.lag.set({ topic, partition: String(partition) }, Math.max(0, end - offsets.nextToCommit));
    }
  }

  // ---- lifecycle ----

  /** Graceful stop: no more fetching, finish in-flight events (bounded), commit, close everything. */
  async stop(timeoutMs = this.config.shutdownTimeoutMs): Promise<{ drained: boolean }> {
    if (this.stopping) return { drained: false };
    await this.parts.source.stop().catch((err) => this.log.warn({ err: errorMessage(err) }, 'source stop failed'));
    this.stopping = true;
    const deadline = Date.now() + timeoutMs;
    while ((this.totalInFlight() > 0 || this.featureQueue.length > 0) && Date.now() < deadline) await sleep(5);
    const drained = this.totalInFlight() === 0;
    if (this.acked) await Promise.race([this.acked.drain(), sleep(Math.max(0, deadline - Date.now()))]);
    if (this.commitTimer) clearInterval(this.commitTimer);
    await this.commit();
    await this.commit(); // a retry of anything the first commit could not finish
    if (!drained) this.log.warn({ inFlight: this.totalInFlight() }, 'shutdown timeout: events still in flight were not committed and will be redone after restart');
    await this.close();
    return { drained };
  }

  private async close(): Promise<void> {
    const results = await Promise.allSettled([
      this.parts.source.close(),
      this.lanes.close(),
      this.parts.output.kind === 'acked' ? this.parts.output.sink.close() : this.parts.output.tx.close(),
      this.parts.featureStore.close(),
    ]);
    for (const r of results) if (r.status === 'rejected') this.log.warn({ err: errorMessage(r.reason) }, 'close failed');
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
