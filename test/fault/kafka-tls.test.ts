// Kafka over TLS and mutual TLS, on a dedicated throwaway broker (never the shared one on 9092)
// with a CA, broker certificate and client certificates the test makes with openssl. The engine
// scores end to end through the SSL listener (KAFKA_SSL_CA_FILE) and through the MTLS listener
// (ssl.client.auth=required; KAFKA_SSL_CERT_FILE + KAFKA_SSL_KEY_FILE). A wrong CA, a client
// certificate the broker does not trust, or none at all is one clear stderr line and exit 1; a
// certificate without its key (or with another's key) is a config error, exit 2. Never a hang.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Audit, engineDiagnostics, summarize, sample } from '../kit/audit.js';
import { startEngine, type EngineProcess } from '../kit/engine-process.js';
import { startLoad } from '../kit/load.js';
import { engineEnv, topicsFor } from '../kit/scenario.js';
import { assertServicesReachable, uniqueName } from '../kit/services.js';
import { KafkaBroker } from '../kit/kafka-broker.js';
import { makeTestCerts, type TestCerts } from '../kit/tls-certs.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const EVENTS = 3_000;
/** A start that fails must fail within this (kafkajs's bounded connection retries); beyond it is a hang. */
const EXIT_WITHIN_MS = 90_000;

let certs: TestCerts;
let broker: KafkaBroker | null = null;
before(async () => {
  await assertServicesReachable(); // Redis (shared) for features
  certs = makeTestCerts();
  broker = await KafkaBroker.create({ ssl: { keystorePem: certs.brokerKeystore, truststorePem: certs.ca } });
  await broker.start();
});
after(async () => {
  await broker?.destroy();
  certs?.cleanup();
});

async function scoreOver(tag: string, extra: Record<string, string>): Promise<void> {
  const b = broker!;
  const name = uniqueName(tag);
  const t = topicsFor(name);
  // The test's own clients (audit, load) use the plaintext listener; only the engine speaks TLS.
  const audit = await Audit.start({ brokers: b.brokers, inputTopic: t.input, outputTopic: t.output, dlqTopics: [t.validation, t.processing, t.late], createTopics: 4 });
  let engine: EngineProcess | null = null;
  try {
    engine = await startEngine(engineEnv(name, t, extra));
    await engine.waitReady();
    const load = await startLoad({ kafka: b.client(), topic: t.input, rate: 1_000, total: EVENTS });
    try {
      await load.done;
    } finally {
      await load.stop();
    }
    const report = await audit.finish({ timeoutMs: 60_000 });
    console.log(`# ${tag}: ${summarize(report)}`);
    if (report.lost.length) assert.fail(`lost ${report.lost.length}: ${sample(report.lost)}\n${await engineDiagnostics(engine)}`);
    assert.equal(report.inputs, EVENTS);
    assert.equal(report.byTopic[t.output], EVENTS, 'every event is a prediction');
    for (const r of audit.of()) assert.equal((JSON.parse(r.value.toString()) as { fallback: boolean }).fallback, false);
    if (extra.GUARANTEE === 'exactly-once') assert.equal(report.extraCopies, 0);
    const stopped = await engine.stop();
    assert.equal(stopped.code, 0, engine.stderr().slice(-3000));
  } finally {
    await engine?.kill9();
    await audit.stop();
  }
}

test('TLS (server certificate, KAFKA_SSL_CA_FILE): every event scored end to end', { timeout: 150_000 }, async () => {
  await scoreOver('tls', { KAFKA_BROKERS: broker!.sslBrokers, KAFKA_SSL: 'true', KAFKA_SSL_CA_FILE: certs.ca });
});

test('mutual TLS (client certificate required), exactly-once: every event scored once', { timeout: 150_000 }, async () => {
  await scoreOver('mtls', { KAFKA_BROKERS: broker!.mtlsBrokers, KAFKA_SSL: 'true', KAFKA_SSL_CA_FILE: certs.ca, KAFKA_SSL_CERT_FILE: certs.clientCert, KAFKA_SSL_KEY_FILE: certs.clientKey, GUARANTEE: 'exactly-once' });
});

/** Runs the engine until it exits by itself; fails the test if it is still running after EXIT_WITHIN_MS. */
function runToExit(env: Record<string, string>): Promise<{ code: number | null; stderr: string; ms: number }> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      cwd: ROOT,
      env: { ...process.env, METRICS_PORT: '0', LOG_LEVEL: 'warn', STATUS_LINE: 'off', WORKERS: '1', ...env },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`engine still running after ${EXIT_WITHIN_MS} ms (a hang):\n${stderr.slice(-3000)}`));
    }, EXIT_WITHIN_MS);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr, ms: Date.now() - started });
    });
  });
}

/** The one line an operator reads: the last "scorestream: ..." line on stderr. */
function operatorLine(stderr: string): string {
  const lines = stderr.split('\n').filter((l) => l.startsWith('scorestream: '));
  assert.equal(lines.length, 1, `expected one "scorestream:" line:\n${stderr.slice(-3000)}`);
  return lines[0];
}

test('TLS failures at start: wrong CA, untrusted or missing client certificate → one line, exit 1', { timeout: 400_000 }, async () => {
  const b = broker!;
  const name = uniqueName('tls-bad');
  // Short reconnect backoff: the same bounded retries as with the defaults (10), in seconds
  // instead of ~30 s per case; the outcome is what is tested, not how long it takes.
  const base = engineEnv(name, topicsFor(name), { KAFKA_SSL: 'true', RECONNECT_INITIAL_MS: '50', RECONNECT_MAX_MS: '500' });
  const cases: { what: string; env: Record<string, string>; line: RegExp }[] = [
    { what: 'wrong CA', env: { KAFKA_BROKERS: b.sslBrokers, KAFKA_SSL_CA_FILE: certs.otherCa }, line: /^scorestream: .*TLS: broker 127\.0\.0\.1:\d+'s certificate is not signed by a trusted CA \(KAFKA_SSL_CA_FILE=/ },
    { what: 'no client certificate on the mTLS listener', env: { KAFKA_BROKERS: b.mtlsBrokers, KAFKA_SSL_CA_FILE: certs.ca }, line: /^scorestream: .*TLS: broker 127\.0\.0\.1:\d+ requires a client certificate \(mutual TLS\): set KAFKA_SSL_CERT_FILE and KAFKA_SSL_KEY_FILE/ },
    { what: 'client certificate from an untrusted CA', env: { KAFKA_BROKERS: b.mtlsBrokers, KAFKA_SSL_CA_FILE: certs.ca, KAFKA_SSL_CERT_FILE: certs.strangerCert, KAFKA_SSL_KEY_FILE: certs.strangerKey }, line: /^scorestream: .*TLS: broker 127\.0\.0\.1:\d+ refused the client certificate KAFKA_SSL_CERT_FILE=/ },
  ];
  for (const c of cases) {
    for (const guarantee of ['at-least-once', 'exactly-once']) {
      const r = await runToExit({ ...base, ...c.env, GUARANTEE: guarantee });
      const line = operatorLine(r.stderr);
      console.log(`# ${c.what} (${guarantee}): exit ${r.code} after ${r.ms} ms: ${line}`);
      assert.equal(r.code, 1, r.stderr.slice(-3000));
      assert.match(line, c.line);
    }
  }
});

test('a client certificate without its key, or with another certificate\'s key → config error, exit 2', { timeout: 60_000 }, async () => {
  const b = broker!;
  const name = uniqueName('tls-cfg');
  const base = engineEnv(name, topicsFor(name), { KAFKA_BROKERS: b.mtlsBrokers, KAFKA_SSL: 'true', KAFKA_SSL_CA_FILE: certs.ca });
  const cases: { env: Record<string, string>; line: RegExp }[] = [
    { env: { KAFKA_SSL_CERT_FILE: certs.clientCert }, line: /^scorestream: invalid setting KAFKA_SSL_CERT_FILE=.*needs its private key/ },
    { env: { KAFKA_SSL_KEY_FILE: certs.clientKey }, line: /^scorestream: invalid setting KAFKA_SSL_KEY_FILE=.*needs its client certificate/ },
    { env: { KAFKA_SSL_CERT_FILE: certs.clientCert, KAFKA_SSL_KEY_FILE: certs.strangerKey }, line: /^scorestream: invalid setting KAFKA_SSL_KEY_FILE=.*is not the private key/ },
    { env: { KAFKA_SSL_CERT_FILE: certs.clientCert, KAFKA_SSL_KEY_FILE: certs.ca }, line: /^scorestream: invalid setting KAFKA_SSL_KEY_FILE=.*not an unencrypted PEM private key/ },
    { env: { KAFKA_SSL_CA_FILE: `${certs.dir}/missing.pem` }, line: /^scorestream: invalid setting KAFKA_SSL_CA_FILE=.*cannot read it \(ENOENT\)/ },
    { env: { KAFKA_SSL: 'false' }, line: /^scorestream: invalid setting KAFKA_SSL_CA_FILE=.*needs KAFKA_SSL=true/ },
  ];
  const key = (await import('node:fs')).readFileSync(certs.clientKey, 'utf8');
  for (const c of cases) {
    const r = await runToExit({ ...base, ...c.env });
    assert.equal(r.code, 2, r.stderr.slice(-3000));
    assert.match(operatorLine(r.stderr), c.line);
    assert.ok(!r.stderr.includes(key.split('\n')[1]), 'key material printed');
  }
});
