// Configuration: defaults, env vs flag precedence, flag forms (in-process), and every kind of bad
// setting through the real CLI: exit code 2 and exactly one stderr line naming setting and value.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { availableParallelism } from 'node:os';
import { SETTINGS, flagOf, parseConfig, type SettingKey } from '../../src/config/config.js';
import { ConfigError } from '../../src/shared/errors.js';
import { runCli as runMain, type CliResult } from '../kit/cli.js';

const SECRET = 'hunter2-s3cr3t-do-not-print';

// A bad setting must never get as far as starting the engine; if it does, it is killed after 30 s.
const runCli = (env: Record<string, string>, args: string[] = []): Promise<CliResult> => runMain(args, env, 30_000);

describe('parseConfig (in process)', () => {
  test('defaults', { timeout: 10_000 }, () => {
    const { config, help } = parseConfig([], {});
    assert.equal(help, false);
    for (const [key, s] of Object.entries(SETTINGS) as [SettingKey, (typeof SETTINGS)[SettingKey]][]) {
      if (key === 'workers') continue;
      assert.deepEqual(config[key], s.schema.parse(s.default as never), key);
    }
    assert.equal(config.workers, Math.max(1, availableParallelism()));
    assert.equal(config.kafkaBrokers, '');
    assert.equal(config.guarantee, 'at-least-once');
    assert.equal(config.maxBatch, 64);
    assert.equal(config.maxWaitUs, 0);
    assert.equal(config.commitIntervalMs, 100);
    assert.equal(config.redisUrl, 'redis://127.0.0.1:6379');
    assert.equal(config.kafkaSsl, false);
    assert.equal(config.featureStoreKind, 'memory', 'no brokers: in-process store');
    assert.equal(config.resolvedMetaPath, 'models/model.json');
    assert.equal(config.kafkaSaslSecret, '');
  });

  test('env overrides defaults; flags override env', { timeout: 10_000 }, () => {
    const env = { MAX_BATCH: '32', WORKERS: '3', LOG_LEVEL: 'warn', KAFKA_BROKERS: '127.0.0.1:9092' };
    assert.equal(parseConfig([], env).config.maxBatch, 32);
    assert.equal(parseConfig([], env).config.featureStoreKind, 'redis', 'brokers: redis store');
    const { config } = parseConfig(['--max-batch=16', '--workers', '2'], env);
    assert.equal(config.maxBatch, 16);
    assert.equal(config.workers, 2);
    assert.equal(config.logLevel, 'warn', 'env still applies where no flag is given');
    // A bad env value does not matter when a flag overrides it.
    assert.equal(parseConfig(['--workers', '4'], { WORKERS: 'abc' }).config.workers, 4);
    // An empty env value counts as unset.
    assert.equal(parseConfig([], { MAX_BATCH: '' }).config.maxBatch, 64);
    // Values are trimmed.
    assert.equal(parseConfig([], { MAX_BATCH: ' 8 ' }).config.maxBatch, 8);
  });

  test('--name=value and --name value; bare boolean flags', { timeout: 10_000 }, () => {
    const a = parseConfig(['--input-topic=events', '--output-topic', 'preds', '--max-wait-us=0', '--guarantee', 'at-least-once'], {}).config;
    assert.equal(a.inputTopic, 'events');
    assert.equal(a.outputTopic, 'preds');
    assert.equal(a.maxWaitUs, 0);
    assert.equal(parseConfig(['--watch-model'], {}).config.watchModel, true);
    assert.equal(parseConfig(['--watch-model', '--max-batch', '2'], {}).config.watchModel, true);
    assert.equal(parseConfig(['--kafka-ssl', 'false'], { KAFKA_SSL: 'true' }).config.kafkaSsl, false);
    assert.equal(parseConfig(['--kafka-ssl=yes'], {}).config.kafkaSsl, true);
    assert.equal(parseConfig(['--redis-url=redis://h:1/2?x=a=b'], {}).config.redisUrl, 'redis://h:1/2?x=a=b', 'only the first = splits');
    assert.equal(parseConfig(['--help'], {}).help, true);
    assert.equal(parseConfig(['-h'], {}).help, true);
    assert.equal(parseConfig([], { MODEL_PATH: '/m/x.onnx' }).config.resolvedMetaPath, '/m/model.json');
  });

  test('errors name the flag when the value came from a flag', { timeout: 10_000 }, () => {
    assert.throws(() => parseConfig(['--workers=0'], { WORKERS: '2' }), (e: unknown) => e instanceof ConfigError && e.setting === '--workers' && e.value === '0');
    assert.throws(() => parseConfig([], { WORKERS: '0' }), (e: unknown) => e instanceof ConfigError && e.setting === 'WORKERS');
    assert.throws(() => parseConfig(['--max-batch'], {}), (e: unknown) => e instanceof ConfigError && e.setting === '--max-batch');
  });
});

interface BadCase {
  name: string;
  env?: Record<string, string>;
  args?: string[];
  /** Setting named in the line, and the value shown with it. */
  setting: string;
  value: string;
  /** Do not also put the SASL password in the environment (it would change the error). */
  noSecret?: boolean;
}

/** Run through the real CLI (a child process each). */
const BAD: BadCase[] = [
  { name: 'WORKERS=0', env: { WORKERS: '0' }, setting: 'WORKERS', value: '"0"' },
  { name: 'WORKERS=abc', env: { WORKERS: 'abc' }, setting: 'WORKERS', value: '"abc"' },
  { name: 'MAX_BATCH=0', env: { MAX_BATCH: '0' }, setting: 'MAX_BATCH', value: '"0"' },
  { name: 'GUARANTEE=sometimes', env: { GUARANTEE: 'sometimes' }, setting: 'GUARANTEE', value: '"sometimes"' },
  { name: 'exactly-once without KAFKA_BROKERS', env: { GUARANTEE: 'exactly-once' }, setting: 'GUARANTEE', value: '"exactly-once"' },
  { name: 'KAFKA_BROKERS=not-a-host', env: { KAFKA_BROKERS: 'not-a-host' }, setting: 'KAFKA_BROKERS', value: '"not-a-host"' },
  { name: 'REDIS_URL=http://x', env: { REDIS_URL: 'http://x' }, setting: 'REDIS_URL', value: '"http://x"' },
  { name: 'COMMIT_INTERVAL_MS=1', env: { COMMIT_INTERVAL_MS: '1' }, setting: 'COMMIT_INTERVAL_MS', value: '"1"' },
  { name: 'LOG_LEVEL=loud', env: { LOG_LEVEL: 'loud' }, setting: 'LOG_LEVEL', value: '"loud"' },
  { name: 'scram-sha-256 without a user', env: { KAFKA_BROKERS: '127.0.0.1:9094', KAFKA_SASL_MECHANISM: 'scram-sha-256' }, setting: 'KAFKA_SASL_MECHANISM', value: '"scram-sha-256"' },
  { name: 'RECONNECT_MAX_MS < RECONNECT_INITIAL_MS', env: { RECONNECT_INITIAL_MS: '1000', RECONNECT_MAX_MS: '500' }, setting: 'RECONNECT_MAX_MS', value: '500' },
  { name: 'an unknown flag --nope', args: ['--nope'], setting: '--nope', value: '"--nope"' },
  { name: 'same topic for input and output', env: { INPUT_TOPIC: 'events', OUTPUT_TOPIC: 'events' }, setting: 'OUTPUT_TOPIC', value: '"events"' },
  { name: 'a REDIS_URL with a password and a bad scheme', env: { REDIS_URL: `http://admin:${SECRET}@redis.example:6379` }, setting: 'REDIS_URL', value: '"http://admin:***@redis.example:6379"' },
  { name: 'a secret passed as a flag, with another bad setting', args: ['--kafka-sasl-password', SECRET, '--max-batch=0'], setting: '--max-batch', value: '"0"' },
  { name: 'a secret passed as a flag is refused, unshown', args: [`--kafka-sasl-password=${SECRET}`], setting: '--kafka-sasl-password', value: '"***"' },
];

/** More bad settings, checked in process (same ConfigError, without a process start each). */
const MORE_BAD: BadCase[] = [
  { name: 'WORKERS=1.5', env: { WORKERS: '1.5' }, setting: 'WORKERS', value: '"1.5"' },
  { name: 'METRICS_PORT=70000', env: { METRICS_PORT: '70000' }, setting: 'METRICS_PORT', value: '"70000"' },
  { name: 'MAX_IN_FLIGHT < MAX_IN_FLIGHT_PER_PARTITION', env: { MAX_IN_FLIGHT: '10' }, setting: 'MAX_IN_FLIGHT', value: '10' },
  { name: 'a flag without its value', args: ['--max-batch'], setting: '--max-batch', value: 'null' },
  { name: 'a bad flag value --workers=abc', args: ['--workers=abc'], env: { WORKERS: '2' }, setting: '--workers', value: '"abc"' },
  { name: 'a DLQ topic equal to the output topic', args: ['--late-topic', 'ml_predictions'], setting: 'OUTPUT_TOPIC', value: '"ml_predictions"' },
  { name: '--input with KAFKA_BROKERS', env: { KAFKA_BROKERS: '127.0.0.1:9092' }, args: ['--input', 'events.ndjson'], setting: 'INPUT', value: '"events.ndjson"' },
  { name: 'password and password file both set', env: { KAFKA_SASL_PASSWORD: SECRET, KAFKA_SASL_PASSWORD_FILE: '/etc/hostname' }, setting: 'KAFKA_SASL_PASSWORD_FILE', value: '"/etc/hostname"', noSecret: true },
  { name: 'an unreadable password file', env: { KAFKA_SASL_PASSWORD_FILE: '/nonexistent/pw' }, setting: 'KAFKA_SASL_PASSWORD_FILE', value: '"/nonexistent/pw"', noSecret: true },
];

describe('bad settings through the real CLI: exit 2, one stderr line', { concurrency: 2 }, () => {
  for (const c of BAD) {
    test(c.name, { timeout: 60_000 }, async () => {
      const env = { ...(c.noSecret ? {} : { KAFKA_SASL_PASSWORD: SECRET }), ...c.env };
      const r = await runCli(env, c.args ?? []);
      assert.equal(r.code, 2, `exit code; stderr: ${r.stderr}`);
      assert.equal(r.stdout, '');
      const lines = r.stderr.split('\n').filter((l) => l.length > 0);
      assert.equal(lines.length, 1, `exactly one stderr line, got:\n${r.stderr}`);
      const line = lines[0];
      assert.ok(line.startsWith(`scorestream: invalid setting ${c.setting}=`), line);
      assert.ok(line.includes(`${c.setting}=${c.value}`), `${line} should show ${c.setting}=${c.value}`);
      assert.ok(!line.includes(SECRET), `the secret leaked: ${line}`);
    });
  }
});

describe('more bad settings (in process)', () => {
  for (const c of MORE_BAD) {
    test(c.name, { timeout: 10_000 }, () => {
      const env = { ...(c.noSecret ? {} : { KAFKA_SASL_PASSWORD: SECRET }), ...c.env };
      assert.throws(
        () => parseConfig(c.args ?? [], env),
        (err: unknown) => {
          assert.ok(err instanceof ConfigError, String(err));
          assert.equal(err.setting, c.setting);
          assert.ok(err.message.startsWith(`invalid setting ${c.setting}=${c.value}: `), err.message);
          assert.ok(!err.message.includes('\n'), 'one line');
          assert.ok(!err.message.includes(SECRET), `the secret leaked: ${err.message}`);
          return true;
        },
      );
    });
  }
});

test('--help exits 0, lists every setting, and prints no secret', { timeout: 60_000 }, async () => {
  const r = await runCli({ KAFKA_SASL_PASSWORD: SECRET, REDIS_PASSWORD: SECRET, REDIS_URL: `redis://u:${SECRET}@h:6379` }, ['--help']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, '');
  for (const [key, s] of Object.entries(SETTINGS)) {
    assert.ok(r.stdout.includes(s.env), `--help lacks ${s.env}`);
    assert.ok(r.stdout.includes(flagOf(key)), `--help lacks ${flagOf(key)}`);
  }
  assert.ok(!r.stdout.includes(SECRET) && !r.stderr.includes(SECRET), 'secret in --help output');
});
