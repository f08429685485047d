// Produces user events into a test topic the way real clients do (keyed by user id, batched
// sends), and remembers where each one landed so tests can audit every input offset.
import '../../src/kafka/kafkajs-read-committed.js'; // before kafkajs: fixes its read_committed filter
import type { Producer } from 'kafkajs';
import { partitionOf, type TestEvent } from './events.js';
import { kafka } from './services.js';

/** An event as produced: where it landed. */
export interface ProducedEvent extends TestEvent {
  partition: number;
  offset: number;
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
