import './kafka/kafkajs-read-committed.js'; // before kafkajs: fixes its read_committed filter
import { unwatchFile, watchFile, type Stats } from 'node:fs';
import { parseConfig, helpText, redactedConfig, type Config } from './config/config.js';
import { Engine, type EngineOutput } from './app/engine.js';
import { ConfigError, ModelLoadError, ScorestreamError, errorMessage } from './shared/errors.js';
import { FileSource } from './source/file-source.js';
import { GeneratorSource } from './source/generator-source.js';
import { HttpServer } from './ops/http-server.js';
import { createKafka } from './kafka/kafka-client.js';
import { KafkaSink } from './output/kafka-sink.js';
import { KafkaSource, fetchBytesPerPartition } from './source/kafka-source.js';
import { createLogger, type Logger } from './ops/logger.js';
import { MemoryFeatureStore } from './features/memory-feature-store.js';
import { Metrics } from './ops/metrics.js';
import { RedisFeatureStore, redactUrl } from './features/redis-feature-store.js';
import type { FeatureStore } from './features/feature-store.js';
import type { Source } from './source/source.js';
import { StreamSink } from './output/stream-sink.js';
import { TransactionalOutput } from './output/transactional-output.js';
import { FailureRateLimiter } from './shared/backoff.js';
import { readModelMeta } from './shared/model-meta.js';

async function buildParts(c: Config, log: Logger): Promise<{ source: Source; featureStore: FeatureStore; output: EngineOutput }> {
  const meta = readModelMeta(c.resolvedMetaPath);
  const storeOpts = { ttlSeconds: c.featureTtlSeconds, coldStart: meta.cold_start, gapCapMinutes: 1440 };
  let featureStore: FeatureStore;
  if (c.featureStoreKind === 'redis') {
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
      onConnectionChange: (up, err) => (up ? log.info({ redis: redactUrl(c.redisUrl) }, 'redis connected') : log.warn({ err: err?.message }, 'redis unavailable; scoring falls back until it returns')),
    });
    // Start even if Redis is down (events fall back until it returns), but say so.
    await store.connect().catch((err) => log.warn({ err: errorMessage(err) }, 'redis not reachable at start'));
    featureStore = store;
  } else {
    featureStore = new MemoryFeatureStore(storeOpts);
  }

  if (!c.kafkaBrokers) {
    const source: Source = c.input
      ? new FileSource(c.input)
      : new GeneratorSource({ rate: c.generatorRate, users: c.generatorUsers, maxEvents: c.generatorEvents, partitions: 4, seed: 42, topic: 'generator' });
    return { source, featureStore, output: { kind: 'acked', sink: new StreamSink(c.outputTopic, c.output, c.dlqOutput) } };
  }

  const kafka = createKafka(c, log);
  const restarts = new FailureRateLimiter(c.maxFailures, c.failureWindowMs);
  const source = new KafkaSource(
    kafka,
    { groupId: c.groupId, topic: c.inputTopic, allowRestart: () => !restarts.record(), maxBytesPerPartition: fetchBytesPerPartition(c.maxInFlightPerPartition), fetchMaxWaitMs: c.fetchMaxWaitMs, fetchMinBytes: c.fetchMinBytes },
    log,
  );
  if (c.guarantee === 'exactly-once') {
    return { source, featureStore, output: { kind: 'transactional', tx: new TransactionalOutput(kafka, { transactionalIdPrefix: c.transactionalIdPrefix, groupId: c.groupId }, log) } };
  }
  const sink = new KafkaSink(kafka);
  await sink.connect();
  return { source, featureStore, output: { kind: 'acked', sink } };
}

function startStatusLine(engine: Engine, c: Config): NodeJS.Timeout | null {
  const on = c.statusLine === 'on' || (c.statusLine === 'auto' && process.stderr.isTTY);
  if (!on) return null;
  let last = engine.stats();
  let lastAt = Date.now();
  const t = setInterval(() => {
    const s = engine.stats();
    const now = Date.now();
    const rate = ((s.predictions - last.predictions) * 1000) / (now - lastAt);
    last = s;
    lastAt = now;
    process.stderr.write(
      `\r\x1b[2K${rate.toFixed(0)} ev/s | in ${s.eventsIn} | predicted ${s.predictions} | fallback ${s.fallbacks} | dlq ${s.deadLetters} | in-flight ${s.inFlight} | paused ${s.pausedPartitions} | restarts ${s.workerRestarts} | model ${s.modelVersion}`,
    );
  }, 1000);
  t.unref();
  return t;
}

async function main(): Promise<number> {
  let config: Config;
  let help: boolean;
  try {
    ({ config, help } = parseConfig(process.argv.slice(2), process.env));
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`scorestream: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  if (help) {
    process.stdout.write(helpText() + '\n');
    return 0;
  }
  const log = createLogger(config.logLevel);
  const metrics = new Metrics();
  log.info({ config: redactedConfig(config), mode: config.kafkaBrokers ? 'kafka' : 'embedded' }, 'starting scorestream');

  let engine: Engine;
  try {
    engine = new Engine(config, await buildParts(config, log), log, metrics);
  } catch (err) {
    if (err instanceof ScorestreamError) {
      process.stderr.write(`scorestream: ${err.message}\n`);
      return 1;
    }
    throw err;
  }

  let exitCode = 0;
  let stopping: Promise<void> | null = null;
  let http: HttpServer | null = null;
  let status: NodeJS.Timeout | null = null;
  let stopWatching = () => {};
  const shutdown = (code: number, why: string): Promise<void> => {
    if (stopping) return stopping;
    exitCode = code;
    log.info({ why }, 'shutting down: draining in-flight events and committing');
    stopping = (async () => {
      if (status) clearInterval(status);
      stopWatching();
      const { drained } = await engine.stop();
      await http?.close();
      const s = engine.stats();
      log.info({ ...s, drained }, 'stopped');
      if (process.stderr.isTTY && status) process.stderr.write('\n');
    })();
    return stopping;
  };
  let fatalError: Error | null = null;
  engine.onFatal((err) => {
    fatalError = err;
    // Exit without draining: the supervisor restarts from committed offsets, which is the point.
    void shutdown(1, `fatal: ${err.message}`);
  });

  try {
    await engine.start();
  } catch (err) {
    if (err instanceof ModelLoadError || err instanceof ScorestreamError) {
      process.stderr.write(`scorestream: ${err.message}\n`);
      await engine.stop(0).catch(() => {});
      return 1;
    }
    log.fatal({ err }, 'failed to start');
    // Also the one line an operator reads first (e.g. a wrong SASL password in exactly-once mode).
    process.stderr.write(`scorestream: ${errorMessage(err)}\n`);
    await engine.stop(0).catch(() => {});
    return 1;
  }

  if (config.metricsPort > 0) {
    http = new HttpServer(metrics, {
      notReady: async () => {
        const reasons: string[] = [];
        if (!engine.lanes.allReady) reasons.push('not every worker has a loaded model');
        if (!engine.consuming) reasons.push('no partitions assigned yet, or shutting down');
        if (config.featureStoreKind === 'redis' && !(await pingQuick(engine))) reasons.push('redis not reachable');
        return reasons;
      },
    });
    try {
      const port = await http.listen(config.metricsPort, config.metricsHost);
      log.info({ port }, 'metrics at /metrics, health at /healthz and /readyz');
    } catch (err) {
      log.error({ err: errorMessage(err), port: config.metricsPort }, 'metrics server could not listen; continuing without it');
      http = null;
    }
  }
  status = startStatusLine(engine, config);

  process.on('SIGTERM', () => void shutdown(0, 'SIGTERM'));
  process.on('SIGINT', () => void shutdown(0, 'SIGINT'));
  const reload = (trigger: string) => {
    log.info({ trigger, modelPath: config.modelPath }, 'model reload requested');
    void engine.reloadModel();
  };
  process.on('SIGHUP', () => reload('SIGHUP'));
  if (config.watchModel) stopWatching = watchModelFiles([config.modelPath, config.resolvedMetaPath], () => reload('watch-model'));
  if (process.env.SCORESTREAM_FAULT_INJECTION === '1') {
    // Fault suite only: SIGUSR2 crashes one worker thread.
    let lane = 0;
    process.on('SIGUSR2', () => engine.crashWorker(lane++));
  }

  const src = engine.source;
  if (src.finished) {
    // A finite input (file, or generator with an event limit): finish it, drain, exit.
    void src.finished.then(() => shutdown(0, 'input finished'), (err: Error) => shutdown(1, `input failed: ${err.message}`));
  }

  await new Promise<void>((resolve) => {
    const wait = () => (stopping ? stopping.then(() => resolve()) : setTimeout(wait, 50));
    wait();
  });
  if (fatalError) return 1;
  return exitCode;
}

/**
 * --watch-model: reloads once the model and its model.json have stopped changing for a moment
 * (replacing two files is not atomic; a reload between the two would be refused, and the next
 * change triggers another). Returns a function that stops watching.
 */
function watchModelFiles(files: string[], reload: () => void, settleMs = 1500): () => void {
  let timer: NodeJS.Timeout | null = null;
  const onChange = (cur: Stats, prev: Stats) => {
    if (cur.mtimeMs === prev.mtimeMs && cur.size === prev.size && cur.ino === prev.ino) return;
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = null;
      reload();
    }, settleMs);
  };
  for (const f of files) watchFile(f, { interval: 500 }, onChange);
  return () => {
    if (timer) clearTimeout(timer);
    for (const f of files) unwatchFile(f, onChange);
  };
}

async function pingQuick(engine: Engine): Promise<boolean> {
  const store = engine.featureStore;
  try {
    await Promise.race([store.ping(), new Promise((_, rej) => setTimeout(() => rej(new Error('timeout')), 500))]);
    return true;
  } catch {
    return false;
  }
}

main().then(
  (code) => {
    process.exitCode = code;
    // Give async log destinations a moment, then leave even if a library keeps a handle open.
    setTimeout(() => process.exit(code), 200).unref();
  },
  (err) => {
    process.stderr.write(`scorestream: ${errorMessage(err)}\n`);
    process.exit(1);
  },
);
