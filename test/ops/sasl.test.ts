// Kafka over SASL on the local broker's SASL_PLAINTEXT listener (127.0.0.1:9094, user
// scorestream; see infra/kafka/server.properties): end to end, wrong password, no secrets in logs.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { runToExit } from '../kit/engine-process.js';
import { allOffsets, eventValue, freshRun, produce, sourceOf, withOpsRun } from './kafka-io.js';

const SASL_BROKERS = process.env.KAFKA_SASL_BROKERS ?? '127.0.0.1:9094';
const USER = 'scorestream';
const PASSWORD = 'scorestream-secret';

const dir = mkdtempSync(join(tmpdir(), 'ss-ops-sasl-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function passwordFile(name: string, secret: string): string {
  const f = join(dir, name);
  writeFileSync(f, secret + '\n', { mode: 0o600 });
  return f;
}

const cases: { mechanism: string; guarantee: string; via: 'file' | 'env' }[] = [
  { mechanism: 'scram-sha-256', guarantee: 'at-least-once', via: 'file' },
  { mechanism: 'scram-sha-512', guarantee: 'exactly-once', via: 'file' },
  { mechanism: 'plain', guarantee: 'at-least-once', via: 'env' },
];

for (const c of cases) {
  test(`SASL ${c.mechanism} (${c.guarantee}, password from ${c.via}): events in → one prediction each out; the password never logged`, { timeout: 120_000 }, async () => {
    // Topics are set up and read over the plaintext listener; only the engine authenticates.
    await withOpsRun(`ops-sasl-${c.mechanism}`, async ({ run, producer, out, start }) => {
      const secretEnv: Record<string, string> = c.via === 'file' ? { KAFKA_SASL_PASSWORD_FILE: passwordFile(`${c.mechanism}.pw`, PASSWORD) } : { KAFKA_SASL_PASSWORD: PASSWORD };
      const engine = await start({ ...run.env, KAFKA_BROKERS: SASL_BROKERS, KAFKA_SASL_MECHANISM: c.mechanism, KAFKA_SASL_USERNAME: USER, GUARANTEE: c.guarantee, ...secretEnv });
      await engine.waitReady();
      const base = Date.now() - 60_000;
      await produce(producer, run.input, Array.from({ length: 40 }, (_, i) => ({ key: `u${i % 7}`, value: eventValue({ user: `u${i % 7}`, product: `sasl-marker-${i}`, ts: base + i }) })));
      await out.waitFor(40, 60_000);
      const { code } = await engine.stop();
      assert.equal(code, 0, engine.stderr().slice(-3000));
      const inputs = await allOffsets(run.input);
      assert.deepEqual(out.records.map(sourceOf).sort(), inputs.sort());
      for (const r of out.records) assert.equal((JSON.parse(r.value) as { fallback: boolean }).fallback, false);
      const logs = engine.stderr();
      assert.ok(!logs.includes(PASSWORD), 'the SASL password appeared in the logs');
      assert.ok(!logs.includes('sasl-marker'), 'an event payload appeared in the logs');
      const startLine = JSON.parse(logs.split('\n').find((l) => l.includes('"msg":"starting scorestream"'))!);
      assert.equal(startLine.config.kafkaSaslMechanism, c.mechanism);
      assert.equal(startLine.config.kafkaSaslSecret, '***');
      if (c.via === 'env') assert.equal(startLine.config.kafkaSaslPassword, '***');
    });
  });
}

test('a wrong SASL password fails at start with a clear one-line error and exit 1, without printing either password', { timeout: 120_000 }, async () => {
  const run = await freshRun('ops-sasl-bad');
  const wrong = 'not-the-secret-42';
  for (const [mechanism, guarantee, secretEnv] of [
    ['scram-sha-256', 'at-least-once', { KAFKA_SASL_PASSWORD_FILE: passwordFile('wrong.pw', wrong) }],
    ['scram-sha-512', 'exactly-once', { KAFKA_SASL_PASSWORD: wrong }],
  ] as const) {
    const r = await runToExit({ ...run.env, KAFKA_BROKERS: SASL_BROKERS, KAFKA_SASL_MECHANISM: mechanism, KAFKA_SASL_USERNAME: USER, GUARANTEE: guarantee, ...secretEnv });
    assert.equal(r.code, 1, r.stderr.slice(-3000));
    const line = r.stderr.split('\n').find((l) => l.startsWith('scorestream: '));
    assert.ok(line, r.stderr.slice(-3000));
    assert.match(line, /SASL .*authentication failed/i);
    assert.ok(!r.stderr.includes(wrong) && !r.stdout.includes(wrong), 'the wrong password was printed');
    assert.ok(!r.stderr.includes(PASSWORD));
  }
});

test('--help and config errors never print a secret', { timeout: 30_000 }, async () => {
  const secret = 'help-must-not-show-this';
  const help = await runToExit({ KAFKA_SASL_PASSWORD: secret, REDIS_PASSWORD: secret }, ['--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /KAFKA_SASL_PASSWORD/);
  assert.ok(!help.stdout.includes(secret) && !help.stderr.includes(secret));
  // Both a password and a password file: rejected, and the message names the setting, not the secret.
  const both = await runToExit({ KAFKA_BROKERS: SASL_BROKERS, KAFKA_SASL_MECHANISM: 'scram-sha-256', KAFKA_SASL_USERNAME: USER, KAFKA_SASL_PASSWORD: secret, KAFKA_SASL_PASSWORD_FILE: passwordFile('both.pw', secret) });
  assert.equal(both.code, 2);
  assert.match(both.stderr, /^scorestream: invalid setting KAFKA_SASL_PASSWORD_FILE=/);
  assert.ok(!both.stderr.includes(secret));
});
