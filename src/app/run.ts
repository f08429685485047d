import { parseConfig, helpText, redactedConfig, type Config } from '../config/config.js';
import { createLogger } from '../ops/logger.js';
import { HttpServer } from '../ops/http-server.js';
import { Metrics } from '../ops/metrics.js';
import { notReadyReasons } from '../ops/readiness.js';
import { ConfigError, FeatureSetError, ModelLoadError, ScorestreamError, errorMessage } from '../shared/errors.js';
import { buildParts } from './compose.js';
import { Engine } from './engine.js';
import { watchModelFiles } from './model-watch.js';
import { startStatusLine } from './status-line.js';

/**
 * The process around the engine: settings, the engine from the composition root, /metrics and
 * probes, signals (SIGTERM/SIGINT drain, SIGHUP reloads the model), and the exit code:
 * 0 stopped cleanly, 1 could not start or failed, 2 bad settings.
 */
export async function run(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  let config: Config;
  let help: boolean;
  try {
    ({ config, help } = parseConfig(argv, env));
  } catch (err) {
    if (err instanceof ConfigError) return fail(2, err.message);
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
    const parts = await buildParts(config, log);
    metrics.setFeatureSet(parts.featureStore.featureSet.hash, parts.featureStore.featureSet.width);
    engine = new Engine(config, parts, log, metrics);
  } catch (err) {
    // A bad feature declaration is configuration (exit 2); a model that cannot load is exit 1.
    if (err instanceof FeatureSetError) return fail(2, err.message);
    if (err instanceof ScorestreamError) return fail(1, err.message);
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
      log.info({ ...engine.stats(), drained }, 'stopped');
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
    if (!(err instanceof ModelLoadError || err instanceof ScorestreamError)) log.fatal({ err }, 'failed to start');
    // Also the one line an operator reads first (e.g. a wrong SASL password in exactly-once mode).
    const code = fail(1, errorMessage(err));
    await engine.stop(0).catch((e) => log.warn({ err: errorMessage(e) }, 'stop after a failed start failed'));
    return code;
  }

  if (config.metricsPort > 0) http = await serveHttp(config, metrics, engine, log);
  status = startStatusLine(engine, config);

  process.on('SIGTERM', () => void shutdown(0, 'SIGTERM'));
  process.on('SIGINT', () => void shutdown(0, 'SIGINT'));
  const reload = (trigger: string) => {
    log.info({ trigger, modelPath: config.modelPath }, 'model reload requested');
    void engine.reloadModel();
  };
  process.on('SIGHUP', () => reload('SIGHUP'));
  if (config.watchModel) stopWatching = watchModelFiles([config.modelPath, config.resolvedMetaPath], () => reload('watch-model'));
  if (env.SCORESTREAM_FAULT_INJECTION === '1') {
    // Fault suite only: SIGUSR2 crashes one worker thread.
    let lane = 0;
    process.on('SIGUSR2', () => engine.crashWorker(lane++));
  }

  const finished = engine.source.finished;
  // A finite input (file, or generator with an event limit): finish it, drain, exit.
  if (finished) void finished.then(() => shutdown(0, 'input finished'), (err: Error) => shutdown(1, `input failed: ${err.message}`));

  await new Promise<void>((resolve) => {
    const wait = () => (stopping ? stopping.then(() => resolve()) : setTimeout(wait, 50));
    wait();
  });
  return fatalError ? 1 : exitCode;
}

async function serveHttp(config: Config, metrics: Metrics, engine: Engine, log: ReturnType<typeof createLogger>): Promise<HttpServer | null> {
  const remoteStore = config.featureStoreKind === 'redis' ? engine.featureStore : null;
  const http = new HttpServer(metrics, { notReady: () => notReadyReasons({ lanesReady: engine.lanes.allReady, consuming: engine.consuming, remoteStore }) });
  try {
    const port = await http.listen(config.metricsPort, config.metricsHost);
    log.info({ port }, 'metrics at /metrics, health at /healthz and /readyz');
    return http;
  } catch (err) {
    log.error({ err: errorMessage(err), port: config.metricsPort }, 'metrics server could not listen; continuing without it');
    return null;
  }
}

/** The one plain line an operator reads, then the exit code. */
function fail(code: number, message: string): number {
  process.stderr.write(`scorestream: ${message}\n`);
  return code;
}
