import { availableParallelism } from 'node:os';
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { ConfigError } from '../shared/errors.js';
import { checkKafkaTlsFiles } from './tls-files.js';

/**
 * Every setting, once: its env name, flag, default and allowed values. parseConfig, --help and
 * the README's configuration table are all generated from this list.
 */
interface Setting<T extends z.ZodTypeAny = z.ZodTypeAny> {
  env: string;
  schema: T;
  /** Shown in --help and the README; computed defaults describe themselves. */
  default: z.input<T> | undefined;
  defaultText?: string;
  describe: string;
  allowed: string;
  /** Never printed: --help and logs show *** instead. */
  secret?: boolean;
  group: string;
}

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
const bool = z.union([z.boolean(), z.enum(['true', 'false', '1', '0', 'yes', 'no'])]).transform((v) => v === true || v === 'true' || v === '1' || v === 'yes');
const topic = z.string().regex(/^[a-zA-Z0-9._-]{1,249}$/);
const def = <T extends z.ZodTypeAny>(s: Setting<T>): Setting<T> => s;

export const SETTINGS = {
  kafkaBrokers: def({ env: 'KAFKA_BROKERS', group: 'Kafka', schema: z.string().regex(/^$|^[^,\s]+:\d+(,[^,\s]+:\d+)*$/), default: '', describe: 'Comma-separated host:port list. Empty: run on the embedded source and stdout sink.', allowed: 'host:port[,host:port...] or empty' }),
  kafkaClient: def({ env: 'KAFKA_CLIENT', group: 'Kafka', schema: z.enum(['kafkajs', 'platformatic']), default: 'kafkajs', describe: 'The Kafka client library behind the source and the sink. platformatic (@platformatic/kafka, opt-in): about half the CPU per event of a consume-produce hop and a lower latency floor; the default kafkajs is the one every suite has run longest.', allowed: 'kafkajs | platformatic' }),
  kafkaClientId: def({ env: 'KAFKA_CLIENT_ID', group: 'Kafka', schema: z.string().min(1), default: 'scorestream', describe: 'Kafka client id.', allowed: 'a non-empty string' }),
  groupId: def({ env: 'KAFKA_GROUP_ID', group: 'Kafka', schema: z.string().min(1), default: 'scorestream', describe: 'Consumer group id. A new group starts from the earliest offset.', allowed: 'a non-empty string' }),
  inputTopic: def({ env: 'INPUT_TOPIC', group: 'Kafka', schema: topic, default: 'user_events', describe: 'Topic of user events.', allowed: 'a Kafka topic name' }),
  outputTopic: def({ env: 'OUTPUT_TOPIC', group: 'Kafka', schema: topic, default: 'ml_predictions', describe: 'Topic predictions are written to, keyed by user id.', allowed: 'a Kafka topic name' }),
  validationTopic: def({ env: 'DLQ_VALIDATION_TOPIC', group: 'Kafka', schema: topic, default: 'validation_errors', describe: 'Dead-letter topic for invalid input.', allowed: 'a Kafka topic name' }),
  processingTopic: def({ env: 'DLQ_PROCESSING_TOPIC', group: 'Kafka', schema: topic, default: 'processing_errors', describe: 'Dead-letter topic for events that failed after validation.', allowed: 'a Kafka topic name' }),
  lateTopic: def({ env: 'DLQ_LATE_TOPIC', group: 'Kafka', schema: topic, default: 'late_events_dlq', describe: 'Dead-letter topic for events behind the watermark.', allowed: 'a Kafka topic name' }),
  guarantee: def({ env: 'GUARANTEE', group: 'Kafka', schema: z.enum(['at-least-once', 'exactly-once']), default: 'at-least-once', describe: 'at-least-once: lowest latency, duplicates possible after a crash. exactly-once: outputs, DLQ records and offsets commit in one Kafka transaction per input partition.', allowed: 'at-least-once | exactly-once' }),
  transactionalIdPrefix: def({ env: 'TRANSACTIONAL_ID_PREFIX', group: 'Kafka', schema: z.string().min(1), default: 'scorestream', describe: 'Exactly-once: producers use transactional id <prefix>-<topic>-<partition>.', allowed: 'a non-empty string' }),
  kafkaSsl: def({ env: 'KAFKA_SSL', group: 'Security', schema: bool, default: false, describe: 'Connect to Kafka over TLS.', allowed: 'true | false' }),
  kafkaSslCaFile: def({ env: 'KAFKA_SSL_CA_FILE', group: 'Security', schema: z.string(), default: '', describe: 'PEM file of the CA that signed the brokers\' certificates (default: system CAs).', allowed: 'a file path' }),
  kafkaSslCertFile: def({ env: 'KAFKA_SSL_CERT_FILE', group: 'Security', schema: z.string(), default: '', describe: 'Mutual TLS: PEM file of this client\'s certificate (needs KAFKA_SSL_KEY_FILE).', allowed: 'a file path' }),
  kafkaSslKeyFile: def({ env: 'KAFKA_SSL_KEY_FILE', group: 'Security', schema: z.string(), default: '', describe: 'Mutual TLS: PEM file of the client certificate\'s private key (unencrypted PKCS#8 or PKCS#1; from a file only, protect it with file permissions).', allowed: 'a file path' }),
  kafkaSaslMechanism: def({ env: 'KAFKA_SASL_MECHANISM', group: 'Security', schema: z.enum(['none', 'plain', 'scram-sha-256', 'scram-sha-512']), default: 'none', describe: 'SASL mechanism for Kafka.', allowed: 'none | plain | scram-sha-256 | scram-sha-512' }),
  kafkaSaslUsername: def({ env: 'KAFKA_SASL_USERNAME', group: 'Security', schema: z.string(), default: '', describe: 'SASL user name.', allowed: 'a string' }),
  kafkaSaslPassword: def({ env: 'KAFKA_SASL_PASSWORD', group: 'Security', schema: z.string(), default: '', secret: true, describe: 'SASL password, from the environment only (or use KAFKA_SASL_PASSWORD_FILE).', allowed: 'a string' }),
  kafkaSaslPasswordFile: def({ env: 'KAFKA_SASL_PASSWORD_FILE', group: 'Security', schema: z.string(), default: '', describe: 'File holding the SASL password.', allowed: 'a file path' }),
  featureStore: def({ env: 'FEATURE_STORE', group: 'Features', schema: z.enum(['auto', 'redis', 'memory']), default: 'auto', describe: 'auto: redis when KAFKA_BROKERS is set, else the in-process store.', allowed: 'auto | redis | memory' }),
  redisUrl: def({ env: 'REDIS_URL', group: 'Features', schema: z.string().regex(/^rediss?:\/\/.+/), default: 'redis://127.0.0.1:6379', describe: 'Redis URL; rediss:// for TLS; user and password may be in the URL.', allowed: 'redis://[user:pass@]host:port[/db] or rediss://...' }),
  redisClusterNodes: def({ env: 'REDIS_CLUSTER_NODES', group: 'Features', schema: z.string().regex(/^$|^[^,\s]+:\d+(,[^,\s]+:\d+)*$/), default: '', describe: 'Redis Cluster seed nodes; when set, features live in the cluster (REDIS_URL then only supplies user, password and TLS).', allowed: 'host:port[,host:port...] or empty' }),
  redisPassword: def({ env: 'REDIS_PASSWORD', group: 'Security', schema: z.string(), default: '', secret: true, describe: 'Redis password (overrides the URL\'s), from the environment only (or use REDIS_PASSWORD_FILE).', allowed: 'a string' }),
  redisPasswordFile: def({ env: 'REDIS_PASSWORD_FILE', group: 'Security', schema: z.string(), default: '', describe: 'File holding the Redis password.', allowed: 'a file path' }),
  redisKeyPrefix: def({ env: 'REDIS_KEY_PREFIX', group: 'Features', schema: z.string(), default: 'ss:u:', describe: 'Prefix of the per-user feature hashes.', allowed: 'a string' }),
  featureTtlSeconds: def({ env: 'FEATURE_TTL_SECONDS', group: 'Features', schema: int(1, 365 * 86400), default: 86400, describe: 'Seconds a user\'s features live after their last event.', allowed: 'an integer 1..31536000' }),
  memoryStoreMaxUsers: def({ env: 'MEMORY_STORE_MAX_USERS', group: 'Features', schema: int(1, 1_000_000_000), default: 500_000, describe: 'In-process feature store (FEATURE_STORE=memory): most users held; beyond it the least recently updated user is dropped (it starts again from the cold start). With FEATURE_TTL_SECONDS this bounds its memory: about 1.3 KB per user, ~650 MB at the default.', allowed: 'an integer 1..1000000000' }),
  redisCommandTimeoutMs: def({ env: 'REDIS_COMMAND_TIMEOUT_MS', group: 'Features', schema: int(10, 60000), default: 1000, describe: 'A feature call slower than this fails (and retries, then falls back).', allowed: 'an integer 10..60000' }),
  featureRetries: def({ env: 'FEATURE_RETRIES', group: 'Features', schema: int(0, 10), default: 2, describe: 'Retries of a failed feature call, with backoff, before fallback or DLQ.', allowed: 'an integer 0..10' }),
  onFeatureError: def({ env: 'ON_FEATURE_ERROR', group: 'Features', schema: z.enum(['fallback', 'dlq']), default: 'fallback', describe: 'When features stay unavailable: score the fallback prediction, or send the event to the processing DLQ.', allowed: 'fallback | dlq' }),
  workers: def({ env: 'WORKERS', group: 'Engine', schema: int(1, 256), default: undefined, defaultText: 'CPU count', describe: 'Worker threads = lanes. Each user always goes to the same lane.', allowed: 'an integer 1..256' }),
  maxBatch: def({ env: 'MAX_BATCH', group: 'Engine', schema: int(1, 4096), default: 64, describe: 'A micro-batch closes at this many rows...', allowed: 'an integer 1..4096' }),
  maxWaitUs: def({ env: 'MAX_WAIT_US', group: 'Engine', schema: int(0, 1_000_000), default: 0, describe: '...or once its first row waited this long (microseconds; 0: take what is already queued, no wait; waits round up to whole ms).', allowed: 'an integer 0..1000000' }),
  maxInFlightPerPartition: def({ env: 'MAX_IN_FLIGHT_PER_PARTITION', group: 'Engine', schema: int(1, 1_000_000), default: 10000, describe: 'A partition\'s fetching pauses with this many uncommitted events. It bounds memory and the duplicates an at-least-once crash can cause, and, in a backlog, throughput: events in flight ÷ their time through the stages (2,000 here drained a backlog at 11,900/s, 10,000 at 37,400/s).', allowed: 'an integer 1..1000000' }),
  maxInFlight: def({ env: 'MAX_IN_FLIGHT', group: 'Engine', schema: int(1, 10_000_000), default: 40000, describe: 'All fetching pauses with this many uncommitted events in total (about 1 KB of memory each).', allowed: 'an integer 1..10000000' }),
  fetchMaxWaitMs: def({ env: 'FETCH_MAX_WAIT_MS', group: 'Kafka', schema: int(0, 10000), default: 5, describe: 'A fetch returns once FETCH_MIN_BYTES are ready or after this long. Without it, kafkajs fetches again the moment a fetch returns, one or two records at a time, and the main thread spins on fetch overhead.', allowed: 'an integer 0..10000' }),
  fetchMinBytes: def({ env: 'FETCH_MIN_BYTES', group: 'Kafka', schema: int(1, 64 * 1024 * 1024), default: 65536, describe: 'The most bytes a fetch waits for (at most FETCH_MAX_WAIT_MS). Below ~20,000 events/s fetches ask for less: what arrives in ¼ ms per record arriving per ms, so up to ~4,000/s a fetch returns on the first record or two (see FETCH_IDLE_MAX_WAIT_MS).', allowed: 'an integer 1..67108864' }),
  fetchIdleMaxWaitMs: def({ env: 'FETCH_IDLE_MAX_WAIT_MS', group: 'Kafka', schema: int(0, 10000), default: 500, describe: 'After a fetch that brought nothing, fetches ask for 1 byte and wait up to this long, until records flow again: an idle engine wakes a few times a second instead of every FETCH_MAX_WAIT_MS, and the broker answers as soon as a record arrives. 0: always FETCH_MIN_BYTES/FETCH_MAX_WAIT_MS, at every rate (no adaptation at all).', allowed: 'an integer 0..10000' }),
  commitIntervalMs: def({ env: 'COMMIT_INTERVAL_MS', group: 'Engine', schema: int(10, 60000), default: 100, describe: 'How often done offsets are committed (exactly-once: how often transactions run when nothing new is staged; see TRANSACTION_MIN_INTERVAL_MS).', allowed: 'an integer 10..60000' }),
  transactionMinIntervalMs: def({ env: 'TRANSACTION_MIN_INTERVAL_MS', group: 'Engine', schema: int(0, 60000), default: 10, describe: 'Exactly-once: outputs become visible when their transaction commits, so the next transactions start this long after the previous ones committed (when something new is staged), not every COMMIT_INTERVAL_MS. Lower: the coordinator may still be finishing the previous transaction (CONCURRENT_TRANSACTIONS, retried after 10 ms); higher: fewer, bigger transactions.', allowed: 'an integer 0..60000' }),
  shutdownTimeoutMs: def({ env: 'SHUTDOWN_TIMEOUT_MS', group: 'Engine', schema: int(0, 600000), default: 10000, describe: 'On SIGTERM/SIGINT, how long to wait for in-flight events before committing and exiting.', allowed: 'an integer 0..600000' }),
  outOfOrdernessMs: def({ env: 'OUT_OF_ORDERNESS_MS', group: 'Engine', schema: int(0, 7 * 86400000), default: 10000, describe: 'Watermark = max event time seen in the partition (capped at now) minus this.', allowed: 'an integer of ms' }),
  allowedLatenessMs: def({ env: 'ALLOWED_LATENESS_MS', group: 'Engine', schema: int(0, 30 * 86400000), default: 60000, describe: 'Events older than watermark minus this go to the late-events DLQ.', allowed: 'an integer of ms' }),
  maxMessageBytes: def({ env: 'MAX_MESSAGE_BYTES', group: 'Engine', schema: int(64, 64 * 1024 * 1024), default: 65536, describe: 'Larger input values go to the validation DLQ.', allowed: 'an integer 64..67108864' }),
  reconnectInitialMs: def({ env: 'RECONNECT_INITIAL_MS', group: 'Restarts', schema: int(1, 600000), default: 100, describe: 'First reconnect/retry delay. Doubles (with jitter) per attempt.', allowed: 'an integer of ms' }),
  reconnectMaxMs: def({ env: 'RECONNECT_MAX_MS', group: 'Restarts', schema: int(1, 600000), default: 5000, describe: 'Largest reconnect/retry delay.', allowed: 'an integer of ms' }),
  reconnectMultiplier: def({ env: 'RECONNECT_MULTIPLIER', group: 'Restarts', schema: z.coerce.number().min(1).max(10), default: 2, describe: 'Growth of the delay per attempt.', allowed: 'a number 1..10' }),
  maxFailures: def({ env: 'MAX_FAILURES', group: 'Restarts', schema: int(1, 100000), default: 20, describe: 'More Kafka send/consumer failures or worker crashes than this within FAILURE_WINDOW_MS exits the process (code 1) for a supervisor to restart.', allowed: 'an integer 1..100000' }),
  failureWindowMs: def({ env: 'FAILURE_WINDOW_MS', group: 'Restarts', schema: int(1000, 3600000), default: 60000, describe: 'Window of MAX_FAILURES.', allowed: 'an integer of ms' }),
  modelPath: def({ env: 'MODEL_PATH', group: 'Model', schema: z.string().min(1), default: 'models/model.onnx', describe: 'ONNX model file.', allowed: 'a file path' }),
  modelMetaPath: def({ env: 'MODEL_META_PATH', group: 'Model', schema: z.string(), default: '', defaultText: 'model.json beside the model', describe: 'The model\'s model.json.', allowed: 'a file path' }),
  watchModel: def({ env: 'WATCH_MODEL', group: 'Model', schema: bool, default: false, describe: 'Reload the model when the model file or its model.json changes (SIGHUP always reloads).', allowed: 'true | false' }),
  input: def({ env: 'INPUT', group: 'Embedded', schema: z.string(), default: '', describe: 'Embedded mode: replay an NDJSON file of events (- for stdin) instead of the generator.', allowed: 'a file path or -' }),
  output: def({ env: 'OUTPUT', group: 'Embedded', schema: z.string(), default: '', describe: 'Embedded mode: write predictions here instead of stdout.', allowed: 'a file path' }),
  dlqOutput: def({ env: 'DLQ_OUTPUT', group: 'Embedded', schema: z.string(), default: '', describe: 'Embedded mode: write dead-letter records here instead of stderr.', allowed: 'a file path' }),
  generatorRate: def({ env: 'GENERATOR_RATE', group: 'Embedded', schema: int(1, 1_000_000), default: 200, describe: 'Embedded generator: events per second.', allowed: 'an integer 1..1000000' }),
  generatorUsers: def({ env: 'GENERATOR_USERS', group: 'Embedded', schema: int(1, 100_000_000), default: 1000, describe: 'Embedded generator: number of users (Zipf-skewed activity).', allowed: 'an integer 1..100000000' }),
  generatorEvents: def({ env: 'GENERATOR_EVENTS', group: 'Embedded', schema: int(0, Number.MAX_SAFE_INTEGER), default: 0, describe: 'Embedded generator: stop after this many events (0: run until stopped).', allowed: 'an integer >= 0' }),
  metricsPort: def({ env: 'METRICS_PORT', group: 'Operations', schema: int(0, 65535), default: 9464, describe: 'Port of /metrics, /healthz, /readyz (0 disables).', allowed: 'an integer 0..65535' }),
  metricsHost: def({ env: 'METRICS_HOST', group: 'Operations', schema: z.string().min(1), default: '127.0.0.1', describe: 'Address the metrics server binds to.', allowed: 'a host or IP' }),
  logLevel: def({ env: 'LOG_LEVEL', group: 'Operations', schema: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']), default: 'info', describe: 'Log level (JSON logs on stderr; pretty on a terminal).', allowed: 'fatal | error | warn | info | debug | trace | silent' }),
  statusLine: def({ env: 'STATUS_LINE', group: 'Operations', schema: z.enum(['auto', 'on', 'off']), default: 'auto', describe: 'A live status line on stderr (auto: when stderr is a terminal).', allowed: 'auto | on | off' }),
} satisfies Record<string, Setting>;

type Settings = typeof SETTINGS;
export type Config = { [K in keyof Settings]: z.output<Settings[K]['schema']> } & {
  /** Resolved from featureStore=auto. */
  featureStoreKind: 'redis' | 'memory';
  /** Resolved from modelMetaPath or its default. */
  resolvedMetaPath: string;
  /** Resolved from the password or the password file. */
  kafkaSaslSecret: string;
};

export type SettingKey = keyof Settings;

export function flagOf(key: string): string {
  return '--' + key.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase());
}

const FLAG_TO_KEY = new Map(Object.keys(SETTINGS).map((k) => [flagOf(k), k as SettingKey]));
const BOOL_KEYS = new Set<string>(['kafkaSsl', 'watchModel']);

export interface ParsedArgs {
  values: Partial<Record<SettingKey, string | boolean>>;
  help: boolean;
}

/** Flags override env. `--name value`, `--name=value`, and bare `--flag` for booleans. */
export function parseArgs(argv: readonly string[]): ParsedArgs {
  const values: ParsedArgs['values'] = {};
  let help = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--help' || a === '-h') {
      help = true;
      continue;
    }
    const eq = a.indexOf('=');
    const name = eq > 0 ? a.slice(0, eq) : a;
    const key = FLAG_TO_KEY.get(name);
    if (!a.startsWith('--') || !key) throw new ConfigError(name, eq > 0 ? '***' : a, `unknown option (see --help); its value is not echoed, in case it was a secret`);
    if (eq > 0) values[key] = a.slice(eq + 1);
    else if (BOOL_KEYS.has(key) && (argv[i + 1] === undefined || argv[i + 1].startsWith('--'))) values[key] = true;
    else if (argv[i + 1] === undefined) throw new ConfigError(name, null, `needs a value (${SETTINGS[key].allowed})`);
    else values[key] = argv[++i];
  }
  return { values, help };
}

/** Merges flags over env over defaults, validates every setting, and rejects conflicts. Throws ConfigError. */
export function parseConfig(argv: readonly string[] = [], env: NodeJS.ProcessEnv = process.env): { config: Config; help: boolean } {
  const { values, help } = parseArgs(argv);
  const out: Record<string, unknown> = {};
  for (const [key, s] of Object.entries(SETTINGS) as [SettingKey, Setting][]) {
    const fromFlag = values[key];
    const fromEnv = env[s.env];
    const raw = fromFlag !== undefined ? fromFlag : fromEnv !== undefined && fromEnv !== '' ? fromEnv : undefined;
    const where = fromFlag !== undefined ? flagOf(key) : s.env;
    if (raw === undefined) {
      out[key] = key === 'workers' ? Math.max(1, availableParallelism()) : s.schema.parse(s.default);
      continue;
    }
    const r = s.schema.safeParse(typeof raw === 'string' ? raw.trim() : raw);
    // A URL may carry a password: show it the way the logs do (redactedConfig).
    const shown = s.secret ? '***' : key === 'redisUrl' ? String(raw).replace(/\/\/([^:@/]*):([^@/]*)@/, '//$1:***@') : raw;
    if (!r.success) throw new ConfigError(where, shown, `allowed: ${s.allowed}`);
    out[key] = r.data;
  }
  // Secrets come from the environment or a file: a command-line flag is visible to every user in ps.
  for (const [key, s] of Object.entries(SETTINGS) as [SettingKey, Setting][]) {
    if (s.secret && values[key] !== undefined) throw new ConfigError(flagOf(key), '***', `secrets are not accepted as flags (ps shows them); set ${s.env} or ${s.env}_FILE`);
  }
  const c = out as Config;
  c.featureStoreKind = c.featureStore === 'auto' ? (c.kafkaBrokers ? 'redis' : 'memory') : c.featureStore;
  c.resolvedMetaPath = c.modelMetaPath || c.modelPath.replace(/[^/]*$/, 'model.json');
  c.kafkaSaslSecret = c.kafkaSaslPassword;
  if (c.kafkaSaslPasswordFile) c.kafkaSaslSecret = readPasswordFile('KAFKA_SASL_PASSWORD', c.kafkaSaslPassword, c.kafkaSaslPasswordFile);
  if (c.redisPasswordFile) c.redisPassword = readPasswordFile('REDIS_PASSWORD', c.redisPassword, c.redisPasswordFile);
  checkKafkaTlsFiles(c);
  if (c.kafkaSaslMechanism !== 'none' && (!c.kafkaSaslUsername || !c.kafkaSaslSecret)) {
    throw new ConfigError('KAFKA_SASL_MECHANISM', c.kafkaSaslMechanism, 'needs KAFKA_SASL_USERNAME and a password (KAFKA_SASL_PASSWORD or KAFKA_SASL_PASSWORD_FILE)');
  }
  if (c.guarantee === 'exactly-once' && !c.kafkaBrokers) {
    throw new ConfigError('GUARANTEE', c.guarantee, 'exactly-once needs Kafka (set KAFKA_BROKERS)');
  }
  if (c.kafkaBrokers && c.input) throw new ConfigError('INPUT', c.input, '--input replays a file in embedded mode; unset KAFKA_BROKERS to use it');
  if (c.reconnectMaxMs < c.reconnectInitialMs) {
    throw new ConfigError('RECONNECT_MAX_MS', c.reconnectMaxMs, `must be >= RECONNECT_INITIAL_MS (${c.reconnectInitialMs})`);
  }
  if (c.maxInFlight < c.maxInFlightPerPartition) {
    throw new ConfigError('MAX_IN_FLIGHT', c.maxInFlight, `must be >= MAX_IN_FLIGHT_PER_PARTITION (${c.maxInFlightPerPartition})`);
  }
  const topics = [c.inputTopic, c.outputTopic, c.validationTopic, c.processingTopic, c.lateTopic];
  if (new Set(topics).size !== topics.length) throw new ConfigError('OUTPUT_TOPIC', c.outputTopic, 'input, output and DLQ topics must all differ');
  return { config: c, help };
}

/** The password in `file` (setting `<env>_FILE`), which excludes giving the password itself (`env`). */
function readPasswordFile(env: string, password: string, file: string): string {
  if (password) throw new ConfigError(`${env}_FILE`, file, `set either ${env} or ${env}_FILE, not both`);
  try {
    return readFileSync(file, 'utf8').trim();
  } catch (err) {
    throw new ConfigError(`${env}_FILE`, file, `cannot read it (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
}

function defaultText(key: SettingKey): string {
  const s: Setting = SETTINGS[key];
  if (s.defaultText) return s.defaultText;
  if (s.secret) return '(none)';
  return s.default === '' ? '(empty)' : String(s.default);
}

export function helpText(): string {
  const lines = ['Usage: npm start -- [options]     (every option can also be set by its environment variable)', ''];
  // Grouped (a group's settings need not be adjacent in SETTINGS), groups in order of first appearance.
  const entries = Object.entries(SETTINGS) as [SettingKey, Setting][];
  const groups = [...new Set(entries.map(([, s]) => s.group))];
  for (const group of groups) {
    lines.push(`${group}:`);
    for (const [key, s] of entries) {
      if (s.group !== group) continue;
      lines.push(`  ${(s.secret ? '(environment only)' : flagOf(key) + ' <v>').padEnd(34)} ${s.env.padEnd(28)} default: ${defaultText(key)}`);
      lines.push(`      ${s.describe} Allowed: ${s.allowed}.${s.secret ? ` (${flagOf(key)} is refused: ps would show it.)` : ''}`);
    }
  }
  return lines.join('\n');
}

/** The README's configuration table (a test checks the README holds exactly this). */
export function markdownTable(): string {
  const rows = ['| Env | Flag | Default | Allowed | What it does |', '| --- | --- | --- | --- | --- |'];
  // Cells are plain text: pipes would split them and <name> would vanish as an HTML tag.
  const cell = (t: string) => t.replace(/\|/g, '\\|').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  const entries = Object.entries(SETTINGS) as [SettingKey, Setting][];
  const groups = [...new Set(entries.map(([, s]) => s.group))];
  // In --help's group order.
  for (const [key, s] of groups.flatMap((g) => entries.filter(([, s]) => s.group === g))) {
    rows.push(`| \`${s.env}\` | ${s.secret ? '(env only)' : `\`${flagOf(key)}\``} | ${cell(defaultText(key))} | ${cell(s.allowed)} | ${cell(s.describe)} |`);
  }
  return rows.join('\n');
}

/** Config for logs: secrets replaced by ***. */
export function redactedConfig(c: Config): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(c)) {
    const s = (SETTINGS as Record<string, Setting>)[k];
    out[k] = s?.secret || k === 'kafkaSaslSecret' ? (v ? '***' : '') : k === 'redisUrl' ? String(v).replace(/\/\/([^:@/]*):([^@/]*)@/, '//$1:***@') : v;
  }
  return out;
}
