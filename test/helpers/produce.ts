// Produces user events into a test topic the way real clients do (keyed by user id, batched
// sends), and remembers where each one landed so tests can audit every input offset.
// Also the test-side oracle of per-user features (computed from the event list alone).
import '../../src/kafka/kafkajs-read-committed.js'; // before kafkajs: fixes its read_committed filter
import type { Producer } from 'kafkajs';
import { kafka } from './services.js';
import { mulberry32 } from '../../src/source/generator-source.js';

export type EventType = 'view' | 'add_to_cart' | 'purchase';

export interface TestEvent {
  user_id: string;
  product_id: string;
  category: string;
  event_type: EventType;
  timestamp_ms: number;
}

/** An event as produced: where it landed. */
export interface ProducedEvent extends TestEvent {
  partition: number;
  offset: number;
}

const EVENT_TYPES: EventType[] = ['view', 'view', 'view', 'view', 'view', 'view', 'add_to_cart', 'add_to_cart', 'purchase'];

/** Stable user → partition (FNV-1a), chosen here so a user's events stay in one partition, in order. */
export function partitionOf(userId: string, partitions: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < userId.length; i++) {
    h ^= userId.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % partitions;
}

/** Deterministic PRNG (mulberry32, the generator's): same seed, same sequence. */
export const rng = mulberry32;

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
    const u = Math.floor(r() * o.users);
    out[i] = {
      user_id: `${prefix}${u}`,
      product_id: `p${Math.floor(r() * 1000)}`,
      category: `c${Math.floor(r() * 20)}`,
      event_type: EVENT_TYPES[Math.floor(r() * EVENT_TYPES.length)],
      timestamp_ms: ts,
    };
  }
  return out;
}

export interface ProduceOptions {
  partitions: number;
  /** Messages per send (each send is one record batch per partition). Default 1,000. */
  batchSize?: number;
  /** A connected producer to reuse (not disconnected here). */
  producer?: Producer;
}

/** An idempotent producer (no duplicates from its own retries), acks from all replicas. */
export async function connectProducer(): Promise<Producer> {
  const p = kafka().producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
  await p.connect();
  return p;
}

/**
 * Sends `events` in order, batched, keyed by user id into partition partitionOf(user_id).
 * Returns each event with the offset it got (from the per-partition base offsets of each send).
 */
export async function produceEvents(topic: string, events: readonly TestEvent[], o: ProduceOptions): Promise<ProducedEvent[]> {
  const producer = o.producer ?? (await connectProducer());
  const batchSize = o.batchSize ?? 1000;
  const out: ProducedEvent[] = [];
  try {
    for (let i = 0; i < events.length; i += batchSize) {
      const chunk = events.slice(i, i + batchSize);
      const parts = chunk.map((e) => partitionOf(e.user_id, o.partitions));
      const meta = await producer.send({
        topic,
        acks: -1,
        messages: chunk.map((e, k) => ({ key: e.user_id, value: JSON.stringify(e), partition: parts[k] })),
      });
      const base = new Map(meta.map((m) => [m.partition, Number(m.baseOffset)]));
      const next = new Map<number, number>();
      chunk.forEach((e, k) => {
        const p = parts[k];
        const off = next.get(p) ?? base.get(p)!;
        next.set(p, off + 1);
        out.push({ ...e, partition: p, offset: off });
      });
    }
  } finally {
    if (!o.producer) await producer.disconnect();
  }
  return out;
}

/** One event scheduled by an open-loop RateProducer. */
export interface ScheduledEvent extends ProducedEvent {
  /** When it was due to be sent (epoch ms); latency is measured from here. */
  scheduledAt: number;
}

/**
 * Open-loop producer: event i is due at start + i/rate, whatever the engine does. Every tick
 * sends all events that became due as one batch, so a slow send never lowers the offered rate
 * (it only makes the next batch bigger).
 */
export class RateProducer {
  readonly sent: ScheduledEvent[] = [];
  private stopped = false;
  private loop: Promise<void> | null = null;
  private i = 0;

  constructor(
    private readonly topic: string,
    private readonly producer: Producer,
    private readonly o: { rate: number; partitions: number; make: (i: number, now: number) => TestEvent; tickMs?: number },
  ) {}

  start(): void {
    const t0 = Date.now();
    const tick = this.o.tickMs ?? 5;
    this.loop = (async () => {
      while (!this.stopped) {
        const now = Date.now();
        const due = Math.floor(((now - t0) * this.o.rate) / 1000);
        if (due > this.i) {
          const evs: { e: TestEvent; at: number }[] = [];
          for (; this.i < due; this.i++) {
            const at = t0 + (this.i * 1000) / this.o.rate;
            evs.push({ e: this.o.make(this.i, Math.floor(at)), at });
          }
          const parts = evs.map(({ e }) => partitionOf(e.user_id, this.o.partitions));
          const meta = await this.producer.send({
            topic: this.topic,
            acks: -1,
            messages: evs.map(({ e }, k) => ({ key: e.user_id, value: JSON.stringify(e), partition: parts[k] })),
          });
          const next = new Map(meta.map((m) => [m.partition, Number(m.baseOffset)]));
          evs.forEach(({ e, at }, k) => {
            const off = next.get(parts[k])!;
            next.set(parts[k], off + 1);
            this.sent.push({ ...e, partition: parts[k], offset: off, scheduledAt: at });
          });
        }
        await new Promise((r) => setTimeout(r, tick));
      }
    })();
  }

  /** Stops scheduling; resolves once the last send finished. */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
  }
}

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
