// The @platformatic/kafka side of the Kafka settings (KAFKA_CLIENT=platformatic): what
// createKafka (kafka-client.ts) is for kafkajs. Every client of that library the engine builds
// (consumer, fetch connections, producers, transactional producers) starts from these options.
import { readFileSync } from 'node:fs';
import type { ConnectionOptions } from 'node:tls';
import { Admin, type BaseOptions, type SASLMechanismValue } from '@platformatic/kafka';
import type { Config } from '../config/config.js';
import { ScorestreamError, errorMessage } from '../shared/errors.js';
import { murmur2 } from './murmur2.js';
import { explainTlsError, type TlsNames } from './tls-socket.js';

/** The subset of the Config the client options come from (a plain object in tests). */
export type PlatformaticSettings = Pick<
  Config,
  | 'kafkaBrokers'
  | 'kafkaClientId'
  | 'kafkaSsl'
  | 'kafkaSslCaFile'
  | 'kafkaSslCertFile'
  | 'kafkaSslKeyFile'
  | 'kafkaSaslMechanism'
  | 'kafkaSaslUsername'
  | 'kafkaSaslSecret'
  | 'reconnectInitialMs'
  | 'reconnectMaxMs'
  | 'reconnectMultiplier'
>;

/** As kafkajs's client (kafka-client.ts): retries of one operation before it fails to the caller. */
const RETRIES = 10;
/** kafkajs's connectionTimeout / requestTimeout here. */
export const CONNECT_TIMEOUT_MS = 3000;
export const REQUEST_TIMEOUT_MS = 30_000;

const SASL: Record<Exclude<Config['kafkaSaslMechanism'], 'none'>, SASLMechanismValue> = {
  plain: 'PLAIN',
  'scram-sha-256': 'SCRAM-SHA-256',
  'scram-sha-512': 'SCRAM-SHA-512',
};

/**
 * The delay before retry `attempt` (1-based) of any operation: RECONNECT_INITIAL_MS growing by
 * RECONNECT_MULTIPLIER up to RECONNECT_MAX_MS, as kafkajs's retry policy (without its jitter).
 */
export function retryDelayMs(c: Pick<Config, 'reconnectInitialMs' | 'reconnectMaxMs' | 'reconnectMultiplier'>, attempt: number): number {
  return Math.min(c.reconnectMaxMs, Math.round(c.reconnectInitialMs * c.reconnectMultiplier ** Math.max(0, attempt - 1)));
}

/** TLS options from KAFKA_SSL*; the files were checked by parseConfig (checkKafkaTlsFiles). */
export function platformaticTls(c: PlatformaticSettings): ConnectionOptions | undefined {
  if (!c.kafkaSsl) return undefined;
  const tls: ConnectionOptions = {};
  // No CA file: Node's system CAs.
  if (c.kafkaSslCaFile) tls.ca = [readFileSync(c.kafkaSslCaFile, 'utf8')];
  if (c.kafkaSslCertFile) {
    tls.cert = readFileSync(c.kafkaSslCertFile, 'utf8');
    tls.key = readFileSync(c.kafkaSslKeyFile, 'utf8');
  }
  return tls;
}

/**
 * The options every @platformatic/kafka client of the engine shares: brokers, client id, TLS,
 * SASL, timeouts and the retry policy. Callers add their own (groupId, idempotent, ...).
 */
export function platformaticBaseOptions(c: PlatformaticSettings): BaseOptions {
  const o: BaseOptions = {
    clientId: c.kafkaClientId,
    bootstrapBrokers: c.kafkaBrokers.split(','),
    connectTimeout: CONNECT_TIMEOUT_MS,
    requestTimeout: REQUEST_TIMEOUT_MS,
    retries: RETRIES,
    retryDelay: (_client, _op, attempt) => retryDelayMs(c, attempt),
  };
  const tls = platformaticTls(c);
  if (tls) o.tls = tls;
  if (c.kafkaSaslMechanism !== 'none') o.sasl = { mechanism: SASL[c.kafkaSaslMechanism], username: c.kafkaSaslUsername, password: c.kafkaSaslSecret };
  return o;
}

type Bytes = string | Buffer;
const toBuffer = (v?: Bytes | null): Buffer | undefined => (v == null ? undefined : typeof v === 'string' ? Buffer.from(v) : v);

/**
 * Serializers for the engine's records (string or Buffer keys, values and header values). The
 * library writes a string as it is, counting characters as bytes, so every field is made a
 * Buffer first; its default partitioner also only hashes Buffer keys.
 */
export const OUTPUT_SERIALIZERS = { key: toBuffer, value: toBuffer, headerKey: toBuffer, headerValue: toBuffer };

/**
 * The producer's partitioner: a keyed record goes where the Java client and kafkajs's
 * DefaultPartitioner put it (murmur2.ts; the library takes the result modulo the partition
 * count); a record without a key, round robin.
 */
export function javaCompatiblePartitioner(): (message: unknown, key: Buffer | undefined) => number {
  let next = 0;
  return (_message, key) => (key ? murmur2(key) & 0x7fffffff : (next = (next + 1) & 0x7fffffff));
}

/** The broker refused the SASL credentials. */
export class KafkaAuthenticationError extends ScorestreamError {}

/** The library's AuthenticationError anywhere in `err`'s chain (it nests them in `errors` and `cause`). */
export function findAuthenticationError(err: unknown, depth = 0): Error | null {
  if (!err || typeof err !== 'object' || depth > 8) return null;
  const e = err as { code?: string; errors?: unknown[]; cause?: unknown };
  if (e.code === 'PLT_KFK_AUTHENTICATION') return err as Error;
  for (const x of e.errors ?? []) {
    const found = findAuthenticationError(x, depth + 1);
    if (found) return found;
  }
  return findAuthenticationError(e.cause, depth + 1);
}

/** The broker refused the TLS handshake, or its certificate is not trusted (explainTlsError's reasons). */
export class KafkaTlsError extends ScorestreamError {}

/** A TLS failure explainTlsError has words for, anywhere in `err`'s chain, explained. */
function findTlsError(err: unknown, broker: string, names: TlsNames, depth = 0): Error | null {
  if (!err || typeof err !== 'object' || depth > 8) return null;
  const e = err as Error & { code?: unknown; errors?: unknown[]; cause?: unknown };
  if (typeof e.code === 'string' && !e.code.startsWith('PLT_KFK_')) {
    const explained = explainTlsError(e as Error & { code: string }, broker, names);
    if (explained !== e) return explained;
  }
  for (const x of e.errors ?? []) {
    const found = findTlsError(x, broker, names, depth + 1);
    if (found) return found;
  }
  return findTlsError(e.cause, broker, names, depth + 1);
}

/**
 * With SASL or TLS: one connection attempt per bootstrap broker until one answers, so wrong
 * credentials or an untrusted certificate fail the start at once with one clear line, as with
 * kafkajs. The library wraps such a refusal in a retriable connection error and retries it
 * through its whole policy (~30 s), then reports only "initProducerId failed 11 times.". Any
 * other failure here (a broker not up yet) is left to the clients' own retries.
 */
export async function checkPlatformaticConnection(c: PlatformaticSettings): Promise<void> {
  if (c.kafkaSaslMechanism === 'none' && !c.kafkaSsl) return;
  for (const broker of c.kafkaBrokers.split(',')) {
    const admin = new Admin({ ...platformaticBaseOptions(c), bootstrapBrokers: [broker], retries: 0 });
    // A broker that wants a client certificate refuses it after the client's side of the
    // handshake: the alert reaches the connection's 'error' event, and the request only sees
    // "Connection closed".
    const socketErrors: unknown[] = [];
    admin.connections.on('connect', ({ connection }: { connection: { on(ev: 'error', fn: (e: unknown) => void): unknown } }) => connection.on('error', (e) => socketErrors.push(e)));
    try {
      await admin.listTopics();
      return;
    } catch (caught) {
      const err = socketErrors.length ? new AggregateError([caught, ...socketErrors], errorMessage(caught)) : caught;
      if (findAuthenticationError(err)) {
        throw new KafkaAuthenticationError(`SASL ${c.kafkaSaslMechanism} authentication failed for user "${c.kafkaSaslUsername}" at ${broker}: the broker refused the credentials (KAFKA_SASL_USERNAME and the password)`, { cause: err });
      }
      const tls = findTlsError(err, broker, { caFile: c.kafkaSslCaFile, certFile: c.kafkaSslCertFile });
      if (tls) throw new KafkaTlsError(tls.message, { cause: err });
    } finally {
      await admin.close();
    }
  }
}
