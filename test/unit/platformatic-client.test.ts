// KAFKA_CLIENT=platformatic: the client options from the settings, and the key partitioning,
// which must put every key where kafkajs's DefaultPartitioner and the Java client put it.
import '../../src/kafka/kafkajs-read-committed.js'; // before kafkajs
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Partitioners } from 'kafkajs';
import { AuthenticationError, MultipleErrors, NetworkError, murmur2 as libraryMurmur2 } from '@platformatic/kafka';
import fc from 'fast-check';
import { parseConfig } from '../../src/config/config.js';
import { murmur2, keyPartition } from '../../src/kafka/murmur2.js';
import { OUTPUT_SERIALIZERS, findAuthenticationError, javaCompatiblePartitioner, platformaticBaseOptions, retryDelayMs } from '../../src/kafka/platformatic-client.js';

const settings = (env: Record<string, string>) => parseConfig([], { KAFKA_BROKERS: 'a:9092,b:9093', ...env }).config;

test('KAFKA_CLIENT: kafkajs by default, platformatic on request, anything else refused', () => {
  assert.equal(settings({}).kafkaClient, 'kafkajs');
  assert.equal(settings({ KAFKA_CLIENT: 'platformatic' }).kafkaClient, 'platformatic');
  assert.throws(() => settings({ KAFKA_CLIENT: 'rdkafka' }), /KAFKA_CLIENT/);
});

test('base options: brokers, client id, timeouts, SASL mechanism names, no TLS unless asked', () => {
  const o = platformaticBaseOptions(settings({ KAFKA_CLIENT_ID: 'me', KAFKA_SASL_MECHANISM: 'scram-sha-512', KAFKA_SASL_USERNAME: 'u', KAFKA_SASL_PASSWORD: 'p' }));
  assert.deepEqual(o.bootstrapBrokers, ['a:9092', 'b:9093']);
  assert.equal(o.clientId, 'me');
  assert.deepEqual(o.sasl, { mechanism: 'SCRAM-SHA-512', username: 'u', password: 'p' });
  assert.equal(o.tls, undefined);
  for (const [m, want] of [['plain', 'PLAIN'], ['scram-sha-256', 'SCRAM-SHA-256']]) {
    assert.equal(platformaticBaseOptions(settings({ KAFKA_SASL_MECHANISM: m, KAFKA_SASL_USERNAME: 'u', KAFKA_SASL_PASSWORD: 'p' })).sasl?.mechanism, want);
  }
  assert.equal(platformaticBaseOptions(settings({})).sasl, undefined);
});

test('the SASL password comes from KAFKA_SASL_PASSWORD_FILE as well', () => {
  const dir = mkdtempSync(join(tmpdir(), 'plat-sasl-'));
  writeFileSync(join(dir, 'pw'), 'from-file\n');
  const o = platformaticBaseOptions(settings({ KAFKA_SASL_MECHANISM: 'plain', KAFKA_SASL_USERNAME: 'u', KAFKA_SASL_PASSWORD_FILE: join(dir, 'pw') }));
  assert.equal(o.sasl?.password, 'from-file');
});

test('TLS: KAFKA_SSL alone uses the system CAs; the CA, certificate and key files are read', () => {
  assert.deepEqual(platformaticBaseOptions(settings({ KAFKA_SSL: 'true' })).tls, {});
  // The files' contents are passed through (parseConfig checks them: a real pair is needed).
  const dir = mkdtempSync(join(tmpdir(), 'plat-tls-'));
  const ca = join(dir, 'ca.pem');
  writeFileSync(ca, 'not checked here');
  const c = { ...settings({ KAFKA_SSL: 'true' }), kafkaSslCaFile: ca, kafkaSslCertFile: ca, kafkaSslKeyFile: ca };
  assert.deepEqual(platformaticBaseOptions(c).tls, { ca: ['not checked here'], cert: 'not checked here', key: 'not checked here' });
});

test('retry delays follow RECONNECT_INITIAL_MS x RECONNECT_MULTIPLIER up to RECONNECT_MAX_MS', () => {
  const c = settings({ RECONNECT_INITIAL_MS: '100', RECONNECT_MAX_MS: '1000', RECONNECT_MULTIPLIER: '2' });
  assert.deepEqual([1, 2, 3, 4, 5, 6].map((a) => retryDelayMs(c, a)), [100, 200, 400, 800, 1000, 1000]);
  const o = platformaticBaseOptions(c);
  assert.equal((o.retryDelay as (...a: unknown[]) => number)(null, 'fetch', 3, 10, new Error('x')), 400);
});

test('murmur2 matches the Java client (Kafka UtilsTest vectors) and @platformatic/kafka\'s own hash', () => {
  const vectors: [string, number][] = [
    ['21', -973932308],
    ['foobar', -790332482],
    ['a-little-bit-long-string', -985981536],
    ['a-little-bit-longer-string', -1486304829],
    ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971],
    ['abc', 479470107],
  ];
  for (const [s, want] of vectors) assert.equal(murmur2(Buffer.from(s)), want, s);
  fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => murmur2(bytes) === libraryMurmur2(Buffer.from(bytes))));
});

test('a key goes to the partition kafkajs\'s DefaultPartitioner picks, for any key and partition count', () => {
  const kafkajs = Partitioners.DefaultPartitioner();
  const ours = javaCompatiblePartitioner();
  fc.assert(
    fc.property(fc.oneof(fc.string({ maxLength: 40 }), fc.string({ unit: 'binary', maxLength: 20 })), fc.integer({ min: 1, max: 200 }), (key, n) => {
      const partitionMetadata = Array.from({ length: n }, (_, i) => ({ partitionId: i, leader: 0 }));
      const expected = kafkajs({ topic: 't', partitionMetadata, message: { key, value: 'v' } } as never);
      const buf = OUTPUT_SERIALIZERS.key(key)!;
      // The library takes the partitioner's result modulo the partition count (producer.js #performSend).
      return ours(undefined, buf) % n === expected && keyPartition(buf, n) === expected;
    }),
    { numRuns: 2000 },
  );
  // Why not the library's default partitioner (murmur2(key) >>> 0): '21' would go to partition 2 of 3, not 0.
  assert.equal((libraryMurmur2(Buffer.from('21')) >>> 0) % 3, 2);
  assert.equal(keyPartition(Buffer.from('21'), 3), 0);
});

test('records without a key are spread round robin; serializers turn strings into UTF-8 bytes', () => {
  const p = javaCompatiblePartitioner();
  const seen = new Set([0, 1, 2, 3].map(() => p(undefined, undefined) % 4));
  assert.equal(seen.size, 4);
  assert.deepEqual(OUTPUT_SERIALIZERS.value('é'), Buffer.from('é'));
  assert.equal(OUTPUT_SERIALIZERS.key(null), undefined);
  const b = Buffer.from('x');
  assert.equal(OUTPUT_SERIALIZERS.value(b), b);
});

test('a SASL refusal is found where the library nests it (a retriable connection error\'s cause, inside retries)', () => {
  const auth = new AuthenticationError('SASL authentication failed.');
  const nested = new MultipleErrors('initProducerId failed 11 times.', [new MultipleErrors('Cannot connect to any broker.', [new NetworkError('Connection to b:9094 failed.', { cause: auth })])]);
  assert.equal(findAuthenticationError(nested), auth);
  assert.equal(findAuthenticationError(new MultipleErrors('x', [new NetworkError('refused')])), null);
  assert.equal(findAuthenticationError(undefined), null);
});
