// The one event factory of the tests: valid user events (seeded random histories, numbered
// events, hand-written ones), their Kafka message form, and the test-side oracle of per-user
// features (computed from the event list alone).
import { laneOf } from '../../src/lanes/lane-router.js';
import { mulberry32 } from '../../src/source/clickstream.js';

export type EventType = 'view' | 'add_to_cart' | 'purchase';

export interface TestEvent {
  user_id: string;
  product_id: string;
  category: string;
  event_type: EventType;
  timestamp_ms: number;
}

/** Deterministic PRNG (mulberry32, the generator's): same seed, same sequence. */
export const rng = mulberry32;

/** Mostly views, as in a real clickstream. */
const EVENT_TYPES: EventType[] = ['view', 'view', 'view', 'view', 'view', 'view', 'add_to_cart', 'add_to_cart', 'purchase'];

/** One random event of user `${prefix}<0..users-1>` at `ts` (draws user, product, category, type from `r`). */
export function randomEvent(r: () => number, users: number, prefix: string, ts: number): TestEvent {
  return {
    user_id: `${prefix}${Math.floor(r() * users)}`,
    product_id: `p${Math.floor(r() * 1000)}`,
    category: `c${Math.floor(r() * 20)}`,
    event_type: EVENT_TYPES[Math.floor(r() * EVENT_TYPES.length)],
    timestamp_ms: ts,
  };
}

export interface GenerateOptions {
  count: number;
  users: number;
  /** Time of the first event; later events are later (the engine's watermark never sees one late). */
  startMs: number;
  /** Mean step between consecutive events (uniform 0..2×mean). Default 2,000 ms. */
  meanStepMs?: number;
  seed?: number;
  /** User ids are `${userPrefix}${i}`. Default 'u'. */
  userPrefix?: string;
}

/** `count` events over `users` users, in time order, random types (mostly views). */
export function generateEvents(o: GenerateOptions): TestEvent[] {
  const r = rng(o.seed ?? 1);
  const step = o.meanStepMs ?? 2000;
  const prefix = o.userPrefix ?? 'u';
  const out: TestEvent[] = new Array(o.count);
  let ts = o.startMs;
  for (let i = 0; i < o.count; i++) {
    ts += Math.floor(r() * 2 * step);
    out[i] = randomEvent(r, o.users, prefix, ts);
  }
  return out;
}

const CATEGORIES = ['electronics', 'books', 'fashion', 'home', 'sports'];
const CYCLE: EventType[] = ['view', 'view', 'view', 'add_to_cart', 'purchase'];

/** Event number i: user `u<i mod users>`, types cycling, stamped `ts` (default now). No randomness. */
export function numberedEvent(i: number, users = 500, ts = Date.now()): TestEvent {
  return {
    user_id: `u${i % users}`,
    product_id: `p${(i * 7919) % 1000}`,
    category: CATEGORIES[i % CATEGORIES.length],
    event_type: CYCLE[(i >>> 3) % CYCLE.length],
    timestamp_ms: ts,
  };
}

/** A hand-written event: user, product, type (default view), time; category 'books'. */
export interface EventSpec {
  user: string;
  product: string;
  type?: EventType;
  ts: number;
}

export const eventOf = (e: EventSpec): TestEvent => ({ user_id: e.user, product_id: e.product, category: 'books', event_type: e.type ?? 'view', timestamp_ms: e.ts });

/** The JSON an input record carries. */
export const eventValue = (e: EventSpec): string => JSON.stringify(eventOf(e));

/** As a Kafka message keyed by user id (so a user's events share a partition, in order). */
export const toMessage = (e: TestEvent): { key: string; value: string } => ({ key: e.user_id, value: JSON.stringify(e) });

/** A valid event of user `u<i mod users>`, stamped now, as a keyed Kafka message. */
export const goodEvent = (i: number, users = 500): { key: string; value: string } => toMessage(numberedEvent(i, users));

/**
 * Stable user → partition, chosen here so a user's events stay in one partition, in order: the
 * lane router's FNV-1a (so with as many lanes as partitions, a partition's users share one lane).
 */
export const partitionOf = (userId: string, partitions: number): number => laneOf(userId, partitions);

// ---- the oracle ----

export interface UserFeatures {
  v: number;
  c: number;
  p: number;
  /** Last event time (never decreases). */
  t: number;
  /** minutes_since_prev after the last event. */
  g: number;
}

/**
 * Features after each of one user's events (in input order), computed from the events alone:
 * a new user starts from `coldStart`; each event adds to its counter; minutes_since_prev =
 * (ts - previous ts) / 60000 clamped to [0, cap], the cold-start gap for the first event.
 */
export function expectedFeatures(events: readonly TestEvent[], coldStart: readonly number[], cap = 1440): { after: number[][]; final: UserFeatures | null } {
  const after: number[][] = [];
  let s: UserFeatures | null = null;
  for (const e of events) {
    if (!s) s = { v: coldStart[0], c: coldStart[1], p: coldStart[2], t: e.timestamp_ms, g: coldStart[3] };
    else {
      s.g = Math.min(cap, Math.max(0, (e.timestamp_ms - s.t) / 60000));
      s.t = Math.max(s.t, e.timestamp_ms);
    }
    if (e.event_type === 'view') s.v++;
    else if (e.event_type === 'add_to_cart') s.c++;
    else s.p++;
    after.push([s.v, s.c, s.p, s.g]);
  }
  return { after, final: s };
}

/** Events grouped by user, each list in input order. */
export function byUser<T extends TestEvent>(events: readonly T[]): Map<string, T[]> {
  const m = new Map<string, T[]>();
  for (const e of events) (m.get(e.user_id) ?? m.set(e.user_id, []).get(e.user_id)!).push(e);
  return m;
}

/** "partition:offset" → the oracle's features after that event, for every event produced. */
export function expectedFeaturesAt(produced: readonly (TestEvent & { partition: number; offset: number })[], coldStart: readonly number[]): Map<string, number[]> {
  const at = new Map<string, number[]>();
  for (const evs of byUser(produced).values()) {
    const { after } = expectedFeatures(evs, coldStart);
    evs.forEach((e, i) => at.set(`${e.partition}:${e.offset}`, after[i]));
  }
  return at;
}
