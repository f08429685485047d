import '../src/kafka/kafkajs-read-committed.js'; // before kafkajs: fixes its read_committed filter
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Kafka, logLevel } from 'kafkajs';
import { createTopicsReady } from '../src/kafka/kafka-topics.js';
import { Redis } from 'ioredis';

/** The real broker and Redis the bench runs against (the project's own infra by default). */
export const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const KAFKA_BROKERS = process.env.KAFKA_BROKERS ?? '127.0.0.1:9092';
export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

export class BenchSetupError extends Error {
  override name = 'BenchSetupError';
}

export function kafkaClient(clientId: string): Kafka {
  return new Kafka({ clientId, brokers: KAFKA_BROKERS.split(','), logLevel: logLevel.NOTHING, retry: { retries: 8, initialRetryTime: 100 } });
}

/** A name no other run has used: topics, groups and Redis prefixes are fresh per run. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
}

async function reachable(): Promise<boolean> {
  const admin = new Kafka({ clientId: 'bench-probe', brokers: KAFKA_BROKERS.split(','), logLevel: logLevel.NOTHING, connectionTimeout: 1000, retry: { retries: 0 } }).admin();
  const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: () => null, connectTimeout: 1000 });
  redis.on('error', () => {});
  try {
    await admin.connect();
    await admin.describeCluster();
    await redis.connect();
    await redis.ping();
    return true;
  } catch {
    return false;
  } finally {
    await admin.disconnect().catch(() => {});
    redis.disconnect();
  }
}

/** Brings the broker and Redis up with the project's script when they do not answer. */
export async function ensureServices(log: (s: string) => void): Promise<void> {
  if (await reachable()) return;
  if (process.env.KAFKA_BROKERS || process.env.REDIS_URL) {
    throw new BenchSetupError(`Kafka (${KAFKA_BROKERS}) or Redis (${REDIS_URL}) not reachable; the bench starts local services only for the default addresses`);
  }
  log('broker or Redis not answering: running scripts/infra.sh up');
  execFileSync('bash', ['scripts/infra.sh', 'up'], { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'] });
  if (!(await reachable())) throw new BenchSetupError('Kafka or Redis still not reachable after scripts/infra.sh up');
}

export async function createTopics(topics: string[], partitions: number): Promise<void> {
  const admin = kafkaClient('bench-admin').admin();
  await admin.connect();
  try {
    await createTopicsReady(admin, topics, partitions);
  } finally {
    await admin.disconnect();
  }
}

/** Best effort: the broker is shared, so runs clean up their topics. */
export async function deleteTopics(topics: string[]): Promise<void> {
  const admin = kafkaClient('bench-admin').admin();
  try {
    await admin.connect();
    const existing = new Set(await admin.listTopics());
    const mine = topics.filter((t) => existing.has(t));
    if (mine.length) await admin.deleteTopics({ topics: mine, timeout: 10000 });
  } catch {
    // Left behind; harmless.
  } finally {
    await admin.disconnect().catch(() => {});
  }
}

export async function deleteGroups(groups: string[]): Promise<void> {
  const admin = kafkaClient('bench-admin').admin();
  try {
    await admin.connect();
    await admin.deleteGroups(groups);
  } catch {
    // A group still draining its session, or already gone.
  } finally {
    await admin.disconnect().catch(() => {});
  }
}

/** Deletes a run's feature hashes (they would expire anyway: the bench sets a short TTL). */
export async function deleteRedisPrefix(prefix: string): Promise<void> {
  const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
  redis.on('error', () => {});
  try {
    await redis.connect();
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 2000);
      cursor = next;
      if (keys.length) await redis.unlink(...keys);
    } while (cursor !== '0');
  } catch {
    // Expires by TTL.
  } finally {
    redis.disconnect();
  }
}

export async function redisVersion(): Promise<string> {
  const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
  redis.on('error', () => {});
  try {
    await redis.connect();
    const info = await redis.info('server');
    return /redis_version:(\S+)/.exec(info)?.[1] ?? 'unknown';
  } catch {
    return 'unknown';
  } finally {
    redis.disconnect();
  }
}

/** Broker version from the jars scripts/infra.sh runs, else from the script itself. */
export function kafkaVersion(): string {
  try {
    for (const f of readdirSync(`${ROOT}/.cache/kafka-libs`)) {
      const m = /^kafka_2\.\d+-(\d+\.\d+\.\d+)\.jar$/.exec(f);
      if (m) return m[1];
    }
  } catch {
    // Not the local infra.
  }
  try {
    return /^KAFKA_VERSION=(\S+)/m.exec(readFileSync(`${ROOT}/scripts/infra.sh`, 'utf8'))?.[1] ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

/** Pids of the local broker and Redis (from scripts/infra.sh's pid files), for CPU sampling. */
export function servicePids(): { kafka: number | null; redis: number | null } {
  const read = (f: string): number | null => {
    try {
      const pid = Number(readFileSync(`${ROOT}/.infra/${f}`, 'utf8').trim());
      return pid > 0 && readdirSync(`/proc/${pid}`).length > 0 ? pid : null;
    } catch {
      return null;
    }
  };
  return { kafka: read('kafka.pid'), redis: read('redis.pid') };
}
