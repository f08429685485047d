import '../kafka/kafkajs-read-committed.js'; // before kafkajs: fixes its read_committed filter
import type { Config } from '../config/config.js';
import type { FeatureStore } from '../features/feature-store.js';
import { MemoryFeatureStore } from '../features/memory-feature-store.js';
import { RedisFeatureStore, redactUrl } from '../features/redis-feature-store.js';
import { loadFeatureSet } from '../features/feature-set.js';
import { createKafka, transactionRetry } from '../kafka/kafka-client.js';
import { checkPlatformaticConnection, platformaticBaseOptions, retryDelayMs } from '../kafka/platformatic-client.js';
import type { Logger } from '../ops/logger.js';
import { KafkaSink } from '../output/kafka-sink.js';
import { PlatformaticSink } from '../output/platformatic-sink.js';
import { PlatformaticTransactions } from '../output/platformatic-transactions.js';
import { StreamSink } from '../output/stream-sink.js';
import { TransactionalOutput } from '../output/transactional-output.js';
import { FailureRateLimiter } from '../shared/backoff.js';
import { errorMessage } from '../shared/errors.js';
import { FileSource } from '../source/file-source.js';
import { GeneratorSource } from '../source/generator-source.js';
import { KafkaSource, fetchBytesPerPartition, type KafkaSourceOptions } from '../source/kafka-source.js';
import { PlatformaticSource } from '../source/platformatic-source.js';
import type { Source } from '../source/source.js';
import type { EngineParts } from './engine.js';

/**
 * The composition root: picks each seam's implementation from the settings — Kafka or the
 * embedded generator/file source, Redis or the in-process store, a sink or per-partition
 * transactions — and builds them. Nothing else in the engine knows which ones run.
 */
export async function buildParts(c: Config, log: Logger): Promise<EngineParts> {
  const featureStore = await buildFeatureStore(c, log);
  if (!c.kafkaBrokers) {
    const source: Source = c.input
      ? new FileSource(c.input)
      : new GeneratorSource({ rate: c.generatorRate, users: c.generatorUsers, maxEvents: c.generatorEvents, partitions: 4, seed: 42, topic: 'generator' });
    return { source, featureStore, output: { kind: 'acked', sink: new StreamSink(c.outputTopic, c.output, c.dlqOutput) } };
  }

  const restarts = new FailureRateLimiter(c.maxFailures, c.failureWindowMs);
  const sourceOpts = { groupId: c.groupId, topic: c.inputTopic, allowRestart: () => !restarts.record(), maxBytesPerPartition: fetchBytesPerPartition(c.maxInFlightPerPartition), fetchMaxWaitMs: c.fetchMaxWaitMs, fetchMinBytes: c.fetchMinBytes, fetchIdleMaxWaitMs: c.fetchIdleMaxWaitMs };
  if (c.kafkaClient === 'platformatic') return buildPlatformaticParts(c, log, featureStore, sourceOpts);

  const kafka = createKafka(c, log);
  const source = new KafkaSource(kafka, sourceOpts, log);
  if (c.guarantee === 'exactly-once') {
    return { source, featureStore, output: { kind: 'transactional', tx: new TransactionalOutput(kafka, { transactionalIdPrefix: c.transactionalIdPrefix, groupId: c.groupId, retry: transactionRetry(c) }, log) } };
  }
  const sink = new KafkaSink(kafka);
  await sink.connect();
  return { source, featureStore, output: { kind: 'acked', sink } };
}

/** KAFKA_CLIENT=platformatic: the same seams on @platformatic/kafka (the source's group member serves the transactions' KIP-447 offsets). */
async function buildPlatformaticParts(c: Config, log: Logger, featureStore: FeatureStore, sourceOpts: KafkaSourceOptions): Promise<EngineParts> {
  await checkPlatformaticConnection(c);
  const client = platformaticBaseOptions(c);
  const source = new PlatformaticSource({ ...sourceOpts, client, retryDelayMs: (attempt) => retryDelayMs(c, attempt) }, log);
  if (c.guarantee === 'exactly-once') {
    const tx = new PlatformaticTransactions(client, { transactionalIdPrefix: c.transactionalIdPrefix, groupId: c.groupId, consumer: () => source.consumer, retry: transactionRetry(c) }, log);
    return { source, featureStore, output: { kind: 'transactional', tx } };
  }
  const sink = new PlatformaticSink(c);
  await sink.connect();
  return { source, featureStore, output: { kind: 'acked', sink } };
}

async function buildFeatureStore(c: Config, log: Logger): Promise<FeatureStore> {
  // The model's declared features; a bad declaration is a FeatureSetError (exit 2) before anything starts.
  const featureSet = loadFeatureSet(c.resolvedMetaPath);
  const storeOpts = { ttlSeconds: c.featureTtlSeconds, featureSet };
  if (c.featureStoreKind !== 'redis') return new MemoryFeatureStore({ ...storeOpts, maxUsers: c.memoryStoreMaxUsers });
  let url = c.redisUrl;
  if (c.redisPassword) {
    const u = new URL(url);
    u.password = c.redisPassword;
    url = u.toString();
  }
  const store = new RedisFeatureStore({
    ...storeOpts,
    url,
    keyPrefix: c.redisKeyPrefix,
    clusterNodes: c.redisClusterNodes ? c.redisClusterNodes.split(',') : undefined,
    commandTimeoutMs: c.redisCommandTimeoutMs,
    reconnect: { initialMs: c.reconnectInitialMs, maxMs: c.reconnectMaxMs, multiplier: c.reconnectMultiplier },
    onConnectionChange: (up, err) => (up ? log.info({ redis: redactUrl(c.redisUrl), keyPrefix: store.userKeyPrefix }, 'redis connected') : log.warn({ err: err?.message }, 'redis unavailable; scoring falls back until it returns')),
  });
  // Start even if Redis is down (events fall back until it returns), but say so.
  await store.connect().catch((err) => log.warn({ err: errorMessage(err) }, 'redis not reachable at start'));
  return store;
}
