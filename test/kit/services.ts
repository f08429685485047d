// Shared helpers for tests that run against the real Kafka broker and Redis
// started by `npm run infra:up` (scripts/infra.sh). No mocks.
import '../../src/kafka/kafkajs-read-committed.js'; // before kafkajs: fixes its read_committed filter
import { randomBytes } from 'node:crypto';
import { Kafka, logLevel, type KafkaConfig } from 'kafkajs';
import { createTopicsReady } from '../../src/kafka/kafka-topics.js';
import { Redis } from 'ioredis';

export const KAFKA_BROKERS: string = process.env.KAFKA_BROKERS ?? '127.0.0.1:9092';
export const REDIS_URL: string = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

const brokerList = (brokers: string): string[] =>
  brokers.split(',').map((b) => b.trim()).filter(Boolean);

/** A kafkajs client for the test broker, silent (logLevel NOTHING). */
export function kafka(overrides: Partial<KafkaConfig> = {}): Kafka {
  return new Kafka({
    clientId: 'scorestream-test',
    brokers: brokerList(KAFKA_BROKERS),
    logLevel: logLevel.NOTHING,
    ...overrides,
  });
}

/** A name no other test run has used: for topics, consumer groups, Redis keys. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;
}

/** Creates a topic (replication factor 1) and waits until every partition has a leader. */
export async function createTopic(name: string, partitions = 4): Promise<void> {
  const admin = kafka().admin();
  await admin.connect();
  try {
    await createTopicsReady(admin, [name], partitions);
  } finally {
    await admin.disconnect();
  }
}

export interface ReachabilityOptions {
  /** Comma-separated host:port list; default KAFKA_BROKERS. */
  brokers?: string;
  /** Default REDIS_URL. */
  redisUrl?: string;
  /** Per service; default 3000 ms. */
  timeoutMs?: number;
}

const HINT = 'run `npm run infra:up`';

/** The URL without its password, for messages. */
const redact = (url: string): string => {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString().replace(/\/$/, '');
  } catch {
    return url;
  }
};

const describeError = (err: unknown): string => {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    const cause = err.cause instanceof Error ? `: ${err.cause.message}` : '';
    return `${err.name}${typeof code === 'string' ? ` ${code}` : ''}: ${err.message}${cause}`;
  }
  return String(err);
};

async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

async function checkKafka(brokers: string, timeoutMs: number): Promise<void> {
  const admin = new Kafka({
    clientId: 'scorestream-reachability',
    brokers: brokerList(brokers),
    logLevel: logLevel.NOTHING,
    connectionTimeout: Math.min(timeoutMs, 1000),
    requestTimeout: timeoutMs,
    retry: { retries: 0 },
  }).admin();
  try {
    await withTimeout(
      (async () => {
        await admin.connect();
        const { brokers: found } = await admin.describeCluster();
        if (found.length === 0) throw new Error('metadata lists no brokers');
      })(),
      timeoutMs,
      'metadata request',
    );
  } finally {
    await admin.disconnect().catch(() => {});
  }
}

async function checkRedis(url: string, timeoutMs: number): Promise<void> {
  const redis = new Redis(url, {
    lazyConnect: true,
    connectTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
  });
  let lastError: unknown;
  redis.on('error', (err) => {
    lastError = err;
  });
  try {
    await withTimeout(
      (async () => {
        await redis.connect();
        const pong = await redis.ping();
        if (pong !== 'PONG') throw new Error(`PING answered ${pong}`);
      })(),
      timeoutMs,
      'PING',
    );
  } catch (err) {
    throw lastError ?? err;
  } finally {
    redis.disconnect();
  }
}

/**
 * Resolves when the Kafka broker answers a metadata request and Redis answers
 * PING; otherwise throws one Error naming every unreachable service, e.g.
 * "Kafka broker not reachable at 127.0.0.1:9092 — run `npm run infra:up` (…)".
 */
export async function assertServicesReachable(opts: ReachabilityOptions = {}): Promise<void> {
  const brokers = opts.brokers ?? KAFKA_BROKERS;
  const redisUrl = opts.redisUrl ?? REDIS_URL;
  const timeoutMs = opts.timeoutMs ?? 3000;
  const [k, r] = await Promise.allSettled([
    checkKafka(brokers, timeoutMs),
    checkRedis(redisUrl, timeoutMs),
  ]);
  const problems: string[] = [];
  if (k.status === 'rejected') {
    problems.push(`Kafka broker not reachable at ${brokers} — ${HINT} (${describeError(k.reason)})`);
  }
  if (r.status === 'rejected') {
    problems.push(`Redis not reachable at ${redact(redisUrl)} — ${HINT} (${describeError(r.reason)})`);
  }
  if (problems.length > 0) throw new Error(problems.join('; '));
}

