import { Cluster, Redis, type RedisOptions } from 'ioredis';
import { FeatureStoreError } from '../shared/errors.js';
import type { FeatureBatch, FeatureResult, FeatureStore, FeatureStoreOptions } from './feature-store.js';
import { guardField, storeFeatureSet } from './feature-store.js';
import type { FeatureSet } from './feature-set.js';
import { generateLua } from './feature-lua.js';
import type { BackoffOptions } from '../shared/backoff.js';
import { backoffDelay } from '../shared/backoff.js';

/**
 * Longest wait between Redis reconnect attempts, below RECONNECT_MAX_MS: while Redis is down
 * every event is degraded (fallback or DLQ), and an attempt is one TCP connect, so probing at
 * least twice a second is cheap and puts normal scoring back within ~0.5 s of Redis returning
 * (with the 5 s cap that Kafka reconnects use, it took up to 5 s).
 */
const MAX_RECONNECT_DELAY_MS = 500;

export interface RedisFeatureStoreOptions extends FeatureStoreOptions {
  url: string;
  /**
   * Prefix of user hash keys. Default 'ss:u:'. The feature set's hash is appended (keys are
   * `<keyPrefix><set hash>:<user>`), so a restart with another feature set never reads state
   * that another set wrote.
   */
  keyPrefix: string;
  /** A command that takes longer fails (the batch falls back). Default 1000 ms. */
  commandTimeoutMs: number;
  /** Reconnect backoff. */
  reconnect: BackoffOptions;
  /** Redis Cluster seed nodes (host:port). Empty: a single Redis at `url`. */
  clusterNodes?: string[];
  onConnectionChange?: (up: boolean, err?: Error) => void;
}

type ScriptClient = (Redis | Cluster) & {
  ssUpdateFeaturesBuffer(numKeys: number, ...args: (string | number)[]): Promise<Buffer>;
  ssUpdateFeatureBuffer(key: string, ...args: (string | number)[]): Promise<Buffer>;
};

/**
 * Redis-backed feature store: one hash per user with TTL, one Lua call per batch (the script
 * feature-lua.ts generates from the declared set), so a batch costs one round trip whatever
 * its size.
 */
export class RedisFeatureStore implements FeatureStore {
  readonly kind = 'redis' as const;
  readonly featureSet: FeatureSet;
  /** keyPrefix + the feature set's hash + ':'. */
  readonly userKeyPrefix: string;
  private readonly client: ScriptClient;
  private readonly width: number;

  private readonly cluster: boolean;

  constructor(private readonly opts: RedisFeatureStoreOptions) {
    this.featureSet = storeFeatureSet(opts);
    this.width = this.featureSet.width;
    this.userKeyPrefix = featureKeyPrefix(opts.keyPrefix, this.featureSet);
    const SCRIPT = generateLua(this.featureSet);
    let attempt = 0;
    const retryStrategy = () => Math.min(MAX_RECONNECT_DELAY_MS, backoffDelay(opts.reconnect, attempt++));
    const options: RedisOptions = {
      // Fail fast while disconnected: a queued command would hold a batch hostage; the engine
      // falls back instead and Redis catches up on reconnect.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      commandTimeout: opts.commandTimeoutMs,
      lazyConnect: true,
      retryStrategy,
    };
    this.cluster = !!opts.clusterNodes?.length;
    if (this.cluster) {
      const u = new URL(opts.url);
      this.client = new Cluster(
        opts.clusterNodes!.map((n) => ({ host: n.slice(0, n.lastIndexOf(':')), port: Number(n.slice(n.lastIndexOf(':') + 1)) })),
        {
          lazyConnect: true,
          enableOfflineQueue: false,
          clusterRetryStrategy: retryStrategy,
          // Commands issued in one tick are sent as one pipeline per node.
          enableAutoPipelining: true,
          redisOptions: {
            maxRetriesPerRequest: 0,
            commandTimeout: opts.commandTimeoutMs,
            username: u.username || undefined,
            password: u.password ? decodeURIComponent(u.password) : undefined,
            tls: u.protocol === 'rediss:' ? {} : undefined,
          },
        },
      ) as ScriptClient;
    } else {
      this.client = new Redis(opts.url, options) as ScriptClient;
    }
    this.client.defineCommand('ssUpdateFeatures', { lua: SCRIPT });
    // Cluster: a fixed key count, so the key is the first argument. ioredis's auto-pipelining
    // routes by the first argument; with the dynamic form that is the key count, every call
    // lands in one pipeline and exec() rejects keys of other nodes.
    this.client.defineCommand('ssUpdateFeature', { lua: SCRIPT, numberOfKeys: 1 });
    this.client.on('ready', () => {
      attempt = 0;
      opts.onConnectionChange?.(true);
    });
    this.client.on('error', (err: Error) => opts.onConnectionChange?.(false, err));
  }

  get available(): boolean {
    return this.client.status === 'ready';
  }

  async connect(): Promise<void> {
    try {
      await this.client.connect();
    } catch (err) {
      throw new FeatureStoreError(`cannot connect to Redis at ${redactUrl(this.opts.url)}: ${(err as Error).message}`, { cause: err });
    }
  }

  async updateAndRead(batch: FeatureBatch): Promise<FeatureResult> {
    const buf = this.cluster ? await this.callPerKey(batch) : await this.callBatch(batch);
    const n = batch.userIds.length;
    const w = this.width;
    const F32 = Float32Array.BYTES_PER_ELEMENT;
    const rowBytes = (w + 1) * F32;
    if (buf.length !== n * rowBytes) throw new FeatureStoreError(`feature script returned ${buf.length} bytes for ${n} events of ${w} features`);
    const features = new Float32Array(n * w);
    const replayed = new Uint8Array(n);
    for (let i = 0, o = 0, f = 0; i < n; i++) {
      for (let k = 0; k < w; k++, o += F32) features[f++] = buf.readFloatLE(o);
      replayed[i] = buf.readFloatLE(o) === 1 ? 1 : 0;
      o += F32;
    }
    return { features, replayed };
  }

  /** Single Redis: the whole batch in one script call (all keys on one server). */
  private async callBatch(batch: FeatureBatch): Promise<Buffer> {
    const n = batch.userIds.length;
    const args: (string | number)[] = new Array(n + 1 + n * 5);
    const prefix = this.userKeyPrefix;
    for (let i = 0; i < n; i++) args[i] = prefix + batch.userIds[i];
    let j = n;
    args[j++] = this.opts.ttlSeconds;
    for (let i = 0; i < n; i++) {
      args[j++] = batch.codes[i];
      args[j++] = batch.timestamps[i];
      args[j++] = batch.categories[i] ?? '';
      args[j++] = guardField(batch.sources[i]);
      args[j++] = batch.offsets[i];
    }
    try {
      return await this.client.ssUpdateFeaturesBuffer(n, ...args);
    } catch (err) {
      throw new FeatureStoreError(`feature update of ${n} events failed: ${(err as Error).message}`, { cause: err });
    }
  }

  /**
   * Redis Cluster: a multi-key script needs all keys in one slot, so each event is its own
   * single-key call; auto-pipelining sends one pipeline per node per tick. A user's calls go to
   * one node over one connection, so they still run in order.
   */
  private async callPerKey(batch: FeatureBatch): Promise<Buffer> {
    const n = batch.userIds.length;
    const ttl = this.opts.ttlSeconds;
    const calls: Promise<Buffer>[] = new Array(n);
    for (let i = 0; i < n; i++) {
      calls[i] = this.client.ssUpdateFeatureBuffer(this.userKeyPrefix + batch.userIds[i], ttl, batch.codes[i], batch.timestamps[i], batch.categories[i] ?? '', guardField(batch.sources[i]), batch.offsets[i]);
    }
    try {
      return Buffer.concat(await Promise.all(calls));
    } catch (err) {
      throw new FeatureStoreError(`feature update of ${n} events failed: ${(err as Error).message}`, { cause: err });
    }
  }

  async read(userId: string): Promise<number[] | null> {
    const fs = this.featureSet.features;
    const named = fs.filter((f) => f.field !== null);
    const h = await this.client.hmgetBuffer(this.userKeyPrefix + userId, 't', 's', ...named.map((f) => f.field!));
    if (h[0] === null) return null;
    // Unnamed features: little-endian doubles in 's', in declaration order (feature-lua.ts).
    let p = 0;
    return fs.map((f) => Math.fround(f.field !== null ? Number(h[2 + named.indexOf(f)]!.toString()) : h[1]!.readDoubleLE(8 * p++)));
  }

  async ping(): Promise<void> {
    await this.client.ping();
  }

  async close(): Promise<void> {
    this.client.disconnect();
  }
}

/** Prefix of a feature set's user hashes: keys are `<prefix><user id>`. */
export function featureKeyPrefix(keyPrefix: string, set: FeatureSet): string {
  return `${keyPrefix}${set.hash}:`;
}

/** Hides the password of a redis:// URL for logs and errors. */
export function redactUrl(url: string): string {
  return url.replace(/\/\/([^:@/]*):([^@/]*)@/, '//$1:***@');
}
