import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { userMapTotals, type EvictionReason } from './memory-store-tally.js';

/** Every Prometheus series the engine exports. Counters are bumped per batch, not per event. */
export class Metrics {
  readonly registry = new Registry();
  readonly eventsIn = new Counter({ name: 'scorestream_events_in_total', help: 'Input records received', registers: [this.registry] });
  readonly predictions = new Counter({ name: 'scorestream_predictions_total', help: 'Predictions written (acknowledged, or staged in exactly-once mode)', registers: [this.registry] });
  readonly fallbacks = new Counter({ name: 'scorestream_fallbacks_total', help: 'Predictions that used the fallback value', labelNames: ['reason'], registers: [this.registry] });
  readonly dlq = new Counter({ name: 'scorestream_dlq_records_total', help: 'Dead-letter records by topic', labelNames: ['topic'], registers: [this.registry] });
  readonly replays = new Counter({ name: 'scorestream_replayed_events_total', help: 'Events the feature store had already applied (re-deliveries)', registers: [this.registry] });
  readonly featureErrors = new Counter({ name: 'scorestream_feature_store_errors_total', help: 'Failed feature store calls (before retries ran out)', registers: [this.registry] });
  readonly sendFailures = new Counter({ name: 'scorestream_output_send_failures_total', help: 'Failed output sends or transactions (retried)', registers: [this.registry] });
  readonly workerRestarts = new Counter({ name: 'scorestream_worker_restarts_total', help: 'Worker threads replaced after a crash', registers: [this.registry] });
  readonly commits = new Counter({ name: 'scorestream_offset_commits_total', help: 'Offset commits (or transactions) that succeeded', registers: [this.registry] });
  readonly endToEnd = new Histogram({
    name: 'scorestream_end_to_end_seconds',
    help: 'From receipt of an input record to its output being written',
    buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });
  readonly inference = new Histogram({
    name: 'scorestream_inference_seconds',
    help: 'session.run time per micro-batch',
    buckets: [0.00002, 0.00005, 0.0001, 0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01],
    registers: [this.registry],
  });
  readonly batchSize = new Histogram({ name: 'scorestream_batch_rows', help: 'Rows per micro-batch', buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512], registers: [this.registry] });
  readonly inFlight = new Gauge({ name: 'scorestream_in_flight_events', help: 'Input records received and not yet committed', registers: [this.registry] });
  readonly inFlightMax = new Gauge({ name: 'scorestream_in_flight_events_max', help: 'Highest number of input records received and not yet done (what MAX_IN_FLIGHT bounds) since start, taken after every fetched batch', registers: [this.registry] });
  readonly paused = new Gauge({ name: 'scorestream_paused_partitions', help: 'Partitions paused by backpressure', registers: [this.registry] });
  readonly lag = new Gauge({ name: 'scorestream_consumer_lag', help: 'Per partition: the broker end offset (as of the last fetch) minus the next offset to commit', labelNames: ['topic', 'partition'], registers: [this.registry] });
  readonly lagSeconds = new Gauge({ name: 'scorestream_consumer_lag_seconds', help: 'Per partition: age of the oldest event received and not yet committed (source timestamp to now), 0 when nothing is in flight', labelNames: ['topic', 'partition'], registers: [this.registry] });
  readonly modelInfo = new Gauge({ name: 'scorestream_model_info', help: 'The model version being served (value 1)', labelNames: ['version'], registers: [this.registry] });
  readonly featureSetInfo = new Gauge({ name: 'scorestream_feature_set_info', help: "The model's declared feature set (value 1): its hash (part of the Redis key prefix) and width", labelNames: ['hash', 'features'], registers: [this.registry] });
  readonly workers = new Gauge({ name: 'scorestream_workers', help: 'Worker lanes with a loaded model', registers: [this.registry] });
  // The in-process feature store (FEATURE_STORE=memory) counts into userMapTotals; read at scrape time.
  readonly memoryStoreUsers = new Gauge({ name: 'scorestream_memory_store_users', help: 'Users held by the in-process feature store (bounded by MEMORY_STORE_MAX_USERS and FEATURE_TTL_SECONDS)', registers: [this.registry], collect() { this.set(userMapTotals.held()); } });
  readonly memoryStoreEvictions = evictionCounter(this.registry);

  constructor() {
    // prom-client's process_* and nodejs_* series, as scorestream_process_* and scorestream_nodejs_*.
    collectDefaultMetrics({ register: this.registry, prefix: 'scorestream_' });
  }

  setFeatureSet(hash: string, width: number): void {
    this.featureSetInfo.reset();
    this.featureSetInfo.set({ hash, features: String(width) }, 1);
  }

  setModelVersion(version: string): void {
    this.modelInfo.reset();
    this.modelInfo.set({ version }, 1);
  }
}

/** Evictions since this Metrics was made, by reason (ttl: expired; capacity: MEMORY_STORE_MAX_USERS reached). */
function evictionCounter(registry: Registry): Counter<'reason'> {
  const reasons: EvictionReason[] = ['ttl', 'capacity'];
  const seen = { ...userMapTotals.evicted };
  const c: Counter<'reason'> = new Counter({
    name: 'scorestream_memory_store_evictions_total',
    help: 'Users dropped from the in-process feature store: reason ttl (no event for FEATURE_TTL_SECONDS) or capacity (MEMORY_STORE_MAX_USERS reached, least recently updated first)',
    labelNames: ['reason'],
    registers: [registry],
    collect() {
      for (const r of reasons) {
        const d = userMapTotals.evicted[r] - seen[r];
        if (d > 0) c.inc({ reason: r }, d);
        seen[r] += d;
      }
    },
  });
  for (const r of reasons) c.inc({ reason: r }, 0);
  return c;
}
