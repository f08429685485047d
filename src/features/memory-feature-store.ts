import type { FeatureBatch, FeatureResult, FeatureStore, FeatureStoreOptions } from './feature-store.js';
import { BoundedUserMap } from './bounded-user-map.js';
import { storeFeatureSet } from './feature-store.js';
import type { FeatureSet } from './feature-set.js';
import { applyEvent, newUserState, type UserFeatureState } from './feature-kinds.js';

interface UserState extends UserFeatureState {
  guards: Map<string, number>;
  expiresAt: number;
}

/**
 * In-process feature store with the semantics of the Redis script (TTL, update-and-read,
 * replay guard), computing the declared features with feature-kinds.ts. Used by the embedded
 * default; state lives in the main thread, so a worker crash loses none of it.
 */
export class MemoryFeatureStore implements FeatureStore {
  readonly kind = 'memory' as const;
  readonly available = true;
  readonly featureSet: FeatureSet;
  /** Bounded by opts.maxUsers (MEMORY_STORE_MAX_USERS) and the TTL: bounded-user-map.ts. */
  private readonly users: BoundedUserMap<UserState>;
  private readonly sweeper: NodeJS.Timeout;

  constructor(private readonly opts: FeatureStoreOptions & { maxUsers?: number }, private readonly now: () => number = Date.now) {
    this.users = new BoundedUserMap(opts.maxUsers);
    this.featureSet = storeFeatureSet(opts);
    this.sweeper = setInterval(() => this.sweep(), 60_000);
    this.sweeper.unref();
  }

  get size(): number {
    return this.users.size;
  }

  async updateAndRead(batch: FeatureBatch): Promise<FeatureResult> {
    const set = this.featureSet;
    const w = set.width;
    const n = batch.userIds.length;
    const features = new Float32Array(n * w);
    const replayed = new Uint8Array(n);
    const now = this.now();
    const ttlMs = this.opts.ttlSeconds * 1000;
    for (let i = 0; i < n; i++) {
      const id = batch.userIds[i];
      let u = this.users.get(id);
      if (u && u.expiresAt <= now) {
        this.users.delete(id, 'ttl');
        u = undefined;
      }
      const offset = batch.offsets[i];
      const last = u?.guards.get(batch.sources[i]);
      if (u && last !== undefined && last >= offset) {
        features.set(u.vals, i * w);
        replayed[i] = 1;
        continue;
      }
      if (!u) {
        u = { ...newUserState(set), guards: new Map(), expiresAt: 0 };
        this.users.set(id, u);
      }
      applyEvent(set, u, batch.codes[i], batch.categories[i] ?? '', batch.timestamps[i]);
      u.guards.set(batch.sources[i], offset);
      u.expiresAt = now + ttlMs;
      this.users.touch(id);
      features.set(u.vals, i * w);
    }
    return { features, replayed };
  }

  async read(userId: string): Promise<number[] | null> {
    const u = this.users.get(userId);
    if (!u || u.expiresAt <= this.now()) return null;
    return Array.from(u.vals, Math.fround);
  }

  async ping(): Promise<void> {}

  async close(): Promise<void> {
    clearInterval(this.sweeper);
    this.users.close();
  }

  private sweep(): void {
    const now = this.now();
    this.users.evictExpired(now);
  }
}
