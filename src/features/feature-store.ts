import { legacyFeatureSet, type FeatureSet } from './feature-set.js';

/**
 * The feature store seam. Each event atomically updates its user's state for the model's
 * declared feature set (feature-set.ts) and yields the feature vector including that event; a
 * replayed event (offset not newer than the last one applied from its input partition) leaves
 * the state untouched and yields the features stored at the user's last applied event.
 * Implementations: RedisFeatureStore (production) and MemoryFeatureStore (embedded default).
 */


/** A batch of events, in order, as parallel arrays (no per-event objects on the hot path). */
export interface FeatureBatch {
  userIds: string[];
  /** EVENT_TYPE_CODE of each event. */
  codes: Uint8Array;
  /** The event's category (filters, one-hot and distinct-category features read it). */
  categories: string[];
  timestamps: Float64Array;
  /** Replay guard scope of each event: its input topic/partition. */
  sources: string[];
  offsets: Float64Array;
}

export interface FeatureResult {
  /** featureSet.width floats per event, in declaration order. */
  features: Float32Array;
  /** 1 where the replay guard skipped the update. */
  replayed: Uint8Array;
}

export interface FeatureStoreOptions {
  /** Seconds a user's features live after their last event. Default 86400 (24 h). */
  ttlSeconds: number;
  /** The model's declared features. When absent: the default four, from coldStart and gapCapMinutes. */
  featureSet?: FeatureSet;
  /** @deprecated use featureSet. Cold start of the default four features. */
  coldStart?: readonly number[];
  /** @deprecated use featureSet. Cap of minutes_since_prev of the default four. */
  gapCapMinutes?: number;
}

/** The set a store computes: the declared one, or the default four built from the legacy options. */
export function storeFeatureSet(opts: FeatureStoreOptions): FeatureSet {
  return opts.featureSet ?? legacyFeatureSet(opts.coldStart, opts.gapCapMinutes);
}

export interface FeatureStore {
  readonly kind: 'redis' | 'memory';
  readonly featureSet: FeatureSet;
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
    categories: new Array<string>(n),
    timestamps: new Float64Array(n),
    sources: new Array<string>(n),
    offsets: new Float64Array(n),
  };
}

/** The hash field holding the last applied offset of one input partition. */
export function guardField(source: string): string {
  return `o:${source}`;
}
