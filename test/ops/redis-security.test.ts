// Redis with a password, an ACL user and TLS (rediss://), on this test's own redis-server
// (never the shared one on 6379): features are read and written, secrets never logged.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Redis } from 'ioredis';
import { freePort, runToExit } from '../kit/engine-process.js';
import { RedisServer } from '../kit/redis-server.js';
import { uniqueName } from '../kit/services.js';
import { loadFeatureSet } from '../../src/features/feature-set.js';
import { featureKeyPrefix } from '../../src/features/redis-feature-store.js';

const DEFAULT_PW = 'default-user-pw-7f3a';
const ACL_USER = 'scorer';
const ACL_PW = 'acl-user-pw-91c2';

let server: RedisServer | null = null;
let dir = '';
let plainPort = 0;
let tlsPort = 0;

/** A throwaway CA and a server certificate for 127.0.0.1, in `dir`. */
function makeCerts(dir: string): void {
  const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=scorestream-test-ca');
  ssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1');
  writeFileSync(join(dir, 'san.ext'), 'subjectAltName=IP:127.0.0.1\n');
  ssl('x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.pem', '-days', '2', '-extfile', 'san.ext');
}

before(async () => {
  tlsPort = await freePort();
  server = await RedisServer.create({
    prepare: makeCerts,
    args: () => ['--tls-port', String(tlsPort), '--tls-cert-file', 'server.pem', '--tls-key-file', 'server.key', '--tls-ca-cert-file', 'ca.pem', '--tls-auth-clients', 'no',
      '--requirepass', DEFAULT_PW, '--user', ACL_USER, 'on', `>${ACL_PW}`, '~*', '+@all'],
    ping: { password: DEFAULT_PW },
  });
  dir = server.dir;
  plainPort = server.port;
  await server.start(20_000);
});

after(async () => {
  await server?.destroy();
});

/** The engine on an --input file, features in Redis, no inherited Kafka or Redis settings. */
const runEngine = (env: Record<string, string>, input: string) =>
  runToExit({ WORKERS: '1', FEATURE_STORE: 'redis', ...env }, ['--input', input], ['KAFKA_BROKERS', 'REDIS_URL', 'REDIS_PASSWORD', 'REDIS_PASSWORD_FILE']);

/** Three events of one user: with working features its counts reach [3 views]. */
function eventsFile(user: string): string {
  const base = Date.now() - 60_000;
  const f = join(dir, `${user}.ndjson`);
  writeFileSync(f, [0, 1, 2].map((i) => JSON.stringify({ user_id: user, product_id: `p${i}`, category: 'books', event_type: 'view', timestamp_ms: base + i * 1000 })).join('\n') + '\n');
  return f;
}

async function storedViews(prefix: string, user: string): Promise<string | null> {
  const r = new Redis({ host: '127.0.0.1', port: plainPort, password: DEFAULT_PW });
  try {
    // The engine keys users under REDIS_KEY_PREFIX + the default model's feature-set hash.
    return await r.hget(featureKeyPrefix(prefix, loadFeatureSet(new URL('../../models/model.json', import.meta.url).pathname)) + user, 'v');
  } finally {
    r.disconnect();
  }
}

const predictions = (stdout: string) => stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as { fallback: boolean; prediction: number });

test('REDIS_PASSWORD_FILE: features are updated in a password-protected Redis; the password is not logged', { timeout: 60_000 }, async () => {
  const pwFile = join(dir, 'redis.pw');
  writeFileSync(pwFile, DEFAULT_PW + '\n', { mode: 0o600 });
  const prefix = `${uniqueName('ops-redis-pw')}:`;
  const r = await runEngine({ REDIS_URL: `redis://127.0.0.1:${plainPort}`, REDIS_PASSWORD_FILE: pwFile, REDIS_KEY_PREFIX: prefix }, eventsFile('alice'));
  assert.equal(r.code, 0, r.stderr.slice(-3000));
  const preds = predictions(r.stdout);
  assert.equal(preds.length, 3);
  assert.ok(preds.every((p) => !p.fallback), 'scored without features');
  assert.equal(await storedViews(prefix, 'alice'), '3');
  assert.ok(!r.stderr.includes(DEFAULT_PW));
});

test('rediss:// with an ACL user in the URL (CA via NODE_EXTRA_CA_CERTS): TLS works; the URL is logged with *** for the password', { timeout: 60_000 }, async () => {
  const prefix = `${uniqueName('ops-redis-tls')}:`;
  const r = await runEngine(
    { REDIS_URL: `rediss://${ACL_USER}:${ACL_PW}@127.0.0.1:${tlsPort}`, REDIS_KEY_PREFIX: prefix, NODE_EXTRA_CA_CERTS: join(dir, 'ca.pem') },
    eventsFile('bob'),
  );
  assert.equal(r.code, 0, r.stderr.slice(-3000));
  const preds = predictions(r.stdout);
  assert.equal(preds.length, 3);
  assert.ok(preds.every((p) => !p.fallback), 'scored without features');
  assert.equal(await storedViews(prefix, 'bob'), '3');
  assert.ok(!r.stderr.includes(ACL_PW), 'the ACL password reached the logs');
  const start = JSON.parse(r.stderr.split('\n').find((l) => l.includes('"msg":"starting scorestream"'))!);
  assert.equal(start.config.redisUrl, `rediss://${ACL_USER}:***@127.0.0.1:${tlsPort}`);
});

test('a wrong Redis password: the engine keeps running on the fallback prediction and never prints the password', { timeout: 60_000 }, async () => {
  const wrong = 'wrong-redis-pw-0b7e';
  const prefix = `${uniqueName('ops-redis-bad')}:`;
  const r = await runEngine({ REDIS_URL: `redis://127.0.0.1:${plainPort}`, REDIS_PASSWORD: wrong, REDIS_KEY_PREFIX: prefix }, eventsFile('carol'));
  assert.equal(r.code, 0, r.stderr.slice(-3000));
  const preds = predictions(r.stdout);
  assert.equal(preds.length, 3);
  assert.ok(preds.every((p) => p.fallback && p.prediction === 0.5));
  assert.match(r.stderr, /WRONGPASS|NOAUTH|invalid password|invalid username-password/i);
  assert.ok(!r.stderr.includes(wrong), 'the wrong password reached the logs');
  assert.equal(await storedViews(prefix, 'carol'), null);
});
