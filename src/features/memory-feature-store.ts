import type { FeatureBatch, FeatureResult, FeatureStore, FeatureStoreOptions } from './feature-store.js';
import { FEATURES_PER_EVENT } from './feature-store.js';

interface UserState {
  v: number;
  c: number;
  p: number;
  /** Last event time (ms), never moves backwards. */
  t: number;
  /** minutes_since_prev at the last applied event. */
  g: number;
  guards: Map<string, number>;
  expiresAt: number;
}

/**
 * In-process feature store with the semantics of feature-update.lua (TTL, update-and-read,
 * replay guard). Used by the embedded default; state lives in the main thread, so a worker
 * crash loses none of it.
 */
export class MemoryFeatureStore implements FeatureStore {
  readonly kind = 'memory' as const;
  readonly available = true;
  private readonly users = new Map<string, UserState>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(private readonly opts: FeatureStoreOptions, private readonly now: () => number = Date.now) {
    this.sweeper = setInterval(() => this.sweep(), 60_000);
    this.sweeper.unref();
  }

  get size(): number {
    return this.users.size;
  }

  async updateAndRead(batch: FeatureBatch): Promise<FeatureResult> {
    const n = batch.userIds.length;
    const features = new Float32Array(n * FEATURES_PER_EVENT);
    const replayed = new Uint8Array(n);
    const now = this.now();
    const ttlMs = this.opts.ttlSeconds * 1000;
    const cs = this.opts.coldStart;
    for (let i = 0; i < n; i++) {
      const id = batch.userIds[i];
      let u = this.users.get(id);
      if (u && u.expiresAt <= now) {
        this.users.delete(id);
        u = undefined;
      }
      const offset = batch.offsets[i];
      const last = u?.guards.get(batch.sources[i]);
      const o = i * FEATURES_PER_EVENT;
      if (u && last !== undefined && last >= offset) {
        features[o] = u.v;
        features[o + 1] = u.c;
        features[o + 2] = u.p;
        features[o + 3] = u.g;
        replayed[i] = 1;
        continue;
      }
      let ts = batch.timestamps[i];
      if (!u) {
        u = { v: cs[0], c: cs[1], p: cs[2], t: ts, g: cs[3], guards: new Map(), expiresAt: 0 };
        this.users.set(id, u);
      } else {
        u.g = Math.min(Math.max((ts - u.t) / 60000, 0), this.opts.gapCapMinutes);
        if (ts < u.t) ts = u.t;
        u.t = ts;
      }
      const code = batch.codes[i];
      if (code === 0) u.v++;
      else if (code === 1) u.c++;
      else u.p++;
      u.guards.set(batch.sources[i], offset);
      u.expiresAt = now + ttlMs;
      features[o] = u.v;
      features[o + 1] = u.c;
      features[o + 2] = u.p;
      features[o + 3] = u.g;
    }
    return { features, replayed };
  }

  async read(userId: string): Promise<number[] | null> {
    const u = this.users.get(userId);
    if (!u || u.expiresAt <= this.now()) return null;
    return [u.v, u.c, u.p, Math.fround(u.g)];
  }

  async ping(): Promise<void> {}

  async close(): Promise<void> {
    clearInterval(this.sweeper);
  }

  private sweep(): void {
    const now = this.now();
    for (const [id, u] of this.users) if (u.expiresAt <= now) this.users.delete(id);
  }
}
