import { EVENT_TYPE_CODE, parseEvent, type UserEvent } from '../ingest/event.js';
import { ValidationError } from '../shared/errors.js';
import { newFeatureBatch, type FeatureBatch, type FeatureStore } from './feature-store.js';
import { MemoryFeatureStore } from './memory-feature-store.js';
import type { FeatureSet } from './feature-set.js';

/** An event of a recorded log, with the input position the replay guard keys on. */
export interface LoggedEvent extends UserEvent {
  /** Replay-guard scope ("topic:partition"). Default "log:0". */
  source: string;
  /** Position in that source. Default: the line's index. */
  offset: number;
}

/**
 * Reads an NDJSON event log (the engine's input format, plus optional "source" and "offset" so a
 * log can record re-deliveries). Invalid lines are a ValidationError naming the line.
 */
export function parseEventLog(text: string): LoggedEvent[] {
  const out: LoggedEvent[] = [];
  const lines = text.split('\n');
  for (let n = 0; n < lines.length; n++) {
    const line = lines[n];
    if (!line.trim()) continue;
    let ev: UserEvent;
    let raw: { source?: unknown; offset?: unknown };
    try {
      ev = parseEvent(Buffer.from(line), Number.MAX_SAFE_INTEGER);
      raw = JSON.parse(line) as typeof raw;
    } catch (err) {
      throw new ValidationError(`line ${n + 1}`, (err as Error).message);
    }
    const source = raw.source === undefined ? 'log:0' : raw.source;
    const offset = raw.offset === undefined ? n : raw.offset;
    if (typeof source !== 'string' || typeof offset !== 'number' || !Number.isSafeInteger(offset)) throw new ValidationError(`line ${n + 1}`, '"source" must be a string and "offset" an integer');
    out.push({ ...ev, source, offset });
  }
  return out;
}

export function toFeatureBatch(events: readonly LoggedEvent[]): FeatureBatch {
  const b = newFeatureBatch(events.length);
  events.forEach((e, i) => {
    b.userIds[i] = e.user_id;
    b.codes[i] = EVENT_TYPE_CODE[e.event_type];
    b.categories[i] = e.category;
    b.timestamps[i] = e.timestamp_ms;
    b.sources[i] = e.source;
    b.offsets[i] = e.offset;
  });
  return b;
}

export interface ReplayRows {
  width: number;
  /** width floats per event (float32, as served). */
  features: Float32Array;
  replayed: Uint8Array;
}

/** Runs a log through a store in batches of `batchSize`, in order. */
export async function replayThrough(store: FeatureStore, events: readonly LoggedEvent[], batchSize = 256): Promise<ReplayRows> {
  const w = store.featureSet.width;
  const features = new Float32Array(events.length * w);
  const replayed = new Uint8Array(events.length);
  for (let at = 0; at < events.length; at += batchSize) {
    const chunk = events.slice(at, at + batchSize);
    const r = await store.updateAndRead(toFeatureBatch(chunk));
    features.set(r.features, at * w);
    replayed.set(r.replayed, at);
  }
  return { width: w, features, replayed };
}

/** The declared features of every event of a log, computed offline (in-process, no TTL expiry during the replay). */
export async function replayOffline(set: FeatureSet, events: readonly LoggedEvent[]): Promise<ReplayRows & { store: MemoryFeatureStore }> {
  const store = new MemoryFeatureStore({ ttlSeconds: 365 * 86_400, featureSet: set });
  try {
    return { ...(await replayThrough(store, events)), store };
  } finally {
    await store.close();
  }
}

/** Equal within `rel` relative to the larger magnitude (both float32 of the same double, or within rounding of it). */
export function closeEnough(a: number, b: number, rel = 1e-6): boolean {
  if (a === b) return true;
  const d = Math.abs(a - b);
  return d <= rel * Math.max(Math.abs(a), Math.abs(b)) || d < 1e-12;
}
