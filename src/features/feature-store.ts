/**
 * The feature store seam. Each event atomically updates its user's counters and last-event
 * time and yields the feature vector including that event; a replayed event (offset not newer
 * than the last one applied from its input partition) leaves the features untouched.
 * Implementations: RedisFeatureStore (production) and MemoryFeatureStore (embedded default).
 */

export const FEATURES_PER_EVENT = 4;

/** A batch of events, in order, as parallel arrays (no per-event objects on the hot path). */
export interface FeatureBatch {
  userIds: string[];
  /** EVENT_TYPE_CODE of each event. */
  codes: Uint8Array;
  timestamps: Float64Array;
  /** Replay guard scope of each event: its input topic/partition. */
  sources: string[];
  offsets: Float64Array;
}

export interface FeatureResult {
  /** FEATURES_PER_EVENT floats per event: views, cart_adds, purchases, minutes_since_prev. */
  features: Float32Array;
  /** 1 where the replay guard skipped the update. */
  replayed: Uint8Array;
}

export interface FeatureStoreOptions {
  /** Seconds a user's features live after their last event. Default 86400 (24 h). */
  ttlSeconds: number;
  /** What a user with no history starts from, from model.json. Default [0, 0, 0, 1440]. */
  coldStart: readonly number[];
  /** Cap of minutes_since_prev. Default 1440. */
  gapCapMinutes: number;
}

export interface FeatureStore {
  readonly kind: 'redis' | 'memory';
  updateAndRead(batch: FeatureBatch): Promise<FeatureResult>;
  /** Features currently held for a user (no update), or null when the user has none. */
  read(userId: string): Promise<number[] | null>;
  ping(): Promise<void>;
  /** False while the store is known to be unreachable: callers fall back at once instead of retrying. */
  readonly available: boolean;
  close(): Promise<void>;
}

export function newFeatureBatch(n: number): FeatureBatch {
  return {
    userIds: new Array<string>(n),
    codes: new Uint8Array(n),
    timestamps: new Float64Array(n),
    sources: new Array<string>(n),
    offsets: new Float64Array(n),
  };
}

/** The hash field holding the last applied offset of one input partition. */
export function guardField(source: string): string {
  return `o:${source}`;
}
