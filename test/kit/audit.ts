// The audit: reads what the engine wrote (output and DLQ topics) from the beginning with a fresh
// consumer group (read_committed, kafkajs's default, so exactly-once runs show only committed
// transactions) and accounts for every input offset through value.source (the input's
// topic/partition/offset): which got no output (lost), which more than one (duplicates), and per
// user whether outputs came in input order. It runs while the test runs, so it also timestamps
// when each record became visible.
import '../../src/kafka/kafkajs-read-committed.js'; // before kafkajs: fixes its read_committed filter
import { Kafka, logLevel, type Consumer, type KafkaMessage } from 'kafkajs';
import { createTopicsReady } from '../../src/kafka/kafka-topics.js';
import { KAFKA_BROKERS, kafka, uniqueName } from './services.js';

export interface Prediction {
  user_id: string;
  product_id: string;
  prediction: number;
  event_time: number;
  processing_time: number;
  model_version: string;
  fallback: boolean;
}

export interface Source {
  topic: string;
  partition: number;
  offset: number;
}

/** One record read back, with where it came from. */
export interface AuditRecord {
  topic: string;
  partition: number;
  offset: number;
  key: string | null;
  /** The value as written. */
  value: Buffer;
  headers: Record<string, string>;
  /** The record's CreateTime (the engine's producer clock). */
  timestamp: number;
  /** When this process read it (epoch ms). */
  receivedAt: number;
  /** The input position the record names in value.source (NaN fields when it names none). */
  source: Source;
}

/** A record with its value parsed (predictions and dead letters are JSON). */
export interface AuditedRecord<V = unknown> extends Omit<AuditRecord, 'value'> {
  value: V;
  /** Same as receivedAt. */
  readAt: number;
}

export interface OffsetCount {
  partition: number;
  offset: number;
  predictions: number;
  dlq: number;
}

export interface OrderViolation {
  user: string;
  partition: number;
  offset: number;
  after: number;
}

export interface AuditReport {
  /** Input offsets accounted for (those in the ranges given). */
  inputs: number;
  /** Output / DLQ records naming an input offset of the input topic. */
  predictions: number;
  dlq: number;
  /** Input offsets with no prediction and no DLQ record. */
  lost: { partition: number; offset: number }[];
  /** Input offsets with more than one output record in total. */
  duplicates: OffsetCount[];
  /** Records beyond the first per input offset (at-least-once replays). */
  extraCopies: number;
  /** Predictions (every copy, in output order) whose input offset is below an earlier one of the same user and input partition. */
  outOfOrder: OrderViolation[];
  /**
   * The same over first copies only: tolerates at-least-once replays (a consumer that drops
   * records whose source it has seen gets every user's events in input order).
   */
  outOfOrderFirst: OrderViolation[];
  /** Input offsets named by outputs but outside the ranges given (should not exist). */
  unexpected: number;
  /** Records that name no input position of the input topic. */
  unattributed: number;
  /** Records read per topic. */
  byTopic: Record<string, number>;
  /** Per input offset, "partition:offset" → counts. */
  perOffset: Map<string, OffsetCount>;
}

export interface AuditOptions {
  /** Default KAFKA_BROKERS (the shared broker). */
  brokers?: string;
  inputTopic: string;
  outputTopic: string;
  /** validation_errors, processing_errors, late_events_dlq of the run. */
  dlqTopics?: string[];
  /** Creates the input, output and DLQ topics first where missing, with this many partitions. */
  createTopics?: number;
  /** Replication factor of the topics createTopics makes (default 1: the single test broker). */
  replicationFactor?: number;
}

export interface FinishOptions {
  /** Stop waiting once every input offset is accounted for and nothing arrived for this long. Default 1500. */
  quietMs?: number;
  /** Give up waiting (and report what is missing) after this long. Default 60 s. */
  timeoutMs?: number;
}

/** Partition → end offset (from endOffsets()), or → { low, high } (every offset of the range). */
export type InputRanges = Map<number, number | { low: number; high: number }>;

/** High watermarks (end offsets) per partition of a topic. */
export async function endOffsets(topic: string, brokers = KAFKA_BROKERS): Promise<Map<number, number>> {
  return new Map([...(await watermarks(topic, brokers))].map(([p, { high }]) => [p, high]));
}

async function watermarks(topic: string, brokers: string): Promise<Map<number, { low: number; high: number }>> {
  const admin = client(brokers).admin();
  await admin.connect();
  try {
    const o = await admin.fetchTopicOffsets(topic);
    return new Map(o.map((p) => [p.partition, { low: Number(p.low), high: Number(p.high) }]));
  } finally {
    await admin.disconnect();
  }
}

/** The group's committed offsets per partition of `topic` (-1 where none). */
export async function committedOffsets(groupId: string, topic: string, client: Kafka = kafka()): Promise<Map<number, number>> {
  const admin = client.admin();
  await admin.connect();
  try {
    const [t] = await admin.fetchOffsets({ groupId, topics: [topic] });
    return new Map(t.partitions.map((p) => [p.partition, Number(p.offset)]));
  } finally {
    await admin.disconnect();
  }
}

function client(brokers: string): Kafka {
  // Keeps retrying through a broker outage (the broker-outage test stops the broker under the audit).
  return new Kafka({ clientId: 'scorestream-audit', brokers: brokers.split(','), logLevel: logLevel.NOTHING, retry: { retries: 100, initialRetryTime: 200, maxRetryTime: 2000 } });
}

function headersOf(m: KafkaMessage): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(m.headers ?? {})) if (v !== undefined) headers[k] = String(Array.isArray(v) ? v[0] : v);
  return headers;
}

/** Predictions and DLQ records both name their input as value.source {topic, partition, offset}. */
function sourceOfValue(value: Buffer | null): { json: unknown; source: Source } {
  try {
    const json = JSON.parse(value?.toString('utf8') ?? 'null') as { source?: Partial<Source> } | null;
    const s = json?.source;
    return { json, source: { topic: String(s?.topic ?? ''), partition: Number(s?.partition ?? NaN), offset: Number(s?.offset ?? NaN) } };
  } catch {
    return { json: null, source: { topic: '', partition: NaN, offset: NaN } };
  }
}

/**
 * A running reader of the output and DLQ topics. Start it before or after the engine; it reads
 * from the beginning either way. report() at any point, finish() to wait for every input offset
 * and report; stop() when done.
 */
export class Audit {
  /** Every record read, in arrival order. */
  readonly records: AuditRecord[] = [];
  /** Records of the output topic naming an input offset, values parsed. */
  readonly predictions: AuditedRecord<Prediction>[] = [];
  /** Records of the DLQ topics naming an input offset, values parsed. */
  readonly deadLetters: AuditedRecord<Record<string, unknown>>[] = [];
  /** Input "partition:offset" → counts, kept up to date as records arrive. */
  private readonly counts = new Map<string, OffsetCount>();
  /** Next offset to read per "topic:partition" of the topics read. */
  private readonly positions = new Map<string, number>();
  private readonly waiters = new Set<() => void>();
  private readonly listeners: ((r: AuditRecord) => void)[] = [];
  private lastArrival = Date.now();
  /** Records this reader received again after its group rejoined, ignored. */
  rereads = 0;
  private readonly brokers: string;
  private readonly consumer: Consumer;

  private constructor(private readonly opts: AuditOptions) {
    this.brokers = opts.brokers ?? KAFKA_BROKERS;
    // A fresh group every time, from the beginning; short fetch waits so disconnect is quick.
    this.consumer = client(this.brokers).consumer({ groupId: uniqueName('audit'), maxWaitTimeInMs: 100, sessionTimeout: 30_000 });
  }

  static async start(opts: AuditOptions): Promise<Audit> {
    if (opts.createTopics) {
      const admin = client(opts.brokers ?? KAFKA_BROKERS).admin();
      await admin.connect();
      try {
        await createTopicsReady(admin, [opts.inputTopic, opts.outputTopic, ...(opts.dlqTopics ?? [])], opts.createTopics, opts.replicationFactor);
      } finally {
        await admin.disconnect();
      }
    }
    const audit = new Audit(opts);
    await audit.run();
    return audit;
  }

  private get topics(): string[] {
    return [this.opts.outputTopic, ...(this.opts.dlqTopics ?? [])];
  }

  private async run(): Promise<void> {
    const c = this.consumer;
    await c.connect();
    // In a multi-broker cluster a just-created topic reaches each broker's metadata at its own
    // moment: the broker subscribe asks may not know it yet for a little while.
    for (const deadline = Date.now() + 15_000; ; ) {
      try {
        await c.subscribe({ topics: this.topics, fromBeginning: true });
        break;
      } catch (err) {
        if ((err as { type?: string }).type !== 'UNKNOWN_TOPIC_OR_PARTITION' || Date.now() > deadline) throw err;
        await new Promise((r) => setTimeout(r, 200));
      }
    }
    await c.run({
      autoCommit: false,
      partitionsConsumedConcurrently: 4,
      eachBatch: async ({ batch }) => this.onBatch(batch.topic, batch.partition, batch.messages, Number(batch.lastOffset())),
    });
  }

  private onBatch(topic: string, partition: number, messages: KafkaMessage[], lastOffset: number): void {
    const now = Date.now();
    const isOutput = topic === this.opts.outputTopic;
    const key = `${topic}:${partition}`;
    const from = this.positions.get(key) ?? 0;
    for (const m of messages) {
      // Its group rejoined (e.g. its coordinator moved) with no committed offset: the reader
      // starts over from the beginning. A record read before is the same record, not a copy.
      if (Number(m.offset) < from) {
        this.rereads++;
        continue;
      }
      const { json, source } = sourceOfValue(m.value);
      const rec: AuditRecord = { topic, partition, offset: Number(m.offset), key: m.key?.toString('utf8') ?? null, value: m.value ?? Buffer.alloc(0), headers: headersOf(m), timestamp: Number(m.timestamp), receivedAt: now, source };
      this.records.push(rec);
      if (source.topic === this.opts.inputTopic && Number.isInteger(source.partition) && Number.isInteger(source.offset)) {
        const k = `${source.partition}:${source.offset}`;
        let c = this.counts.get(k);
        if (!c) this.counts.set(k, (c = { partition: source.partition, offset: source.offset, predictions: 0, dlq: 0 }));
        const parsed = { ...rec, value: json, readAt: now };
        if (isOutput) {
          this.predictions.push(parsed as AuditedRecord<Prediction>);
          c.predictions++;
        } else {
          this.deadLetters.push(parsed as AuditedRecord<Record<string, unknown>>);
          c.dlq++;
        }
      }
      for (const fn of this.listeners) fn(rec);
    }
    if (messages.length) this.lastArrival = now;
    this.positions.set(key, Math.max(from, lastOffset + 1));
    for (const w of [...this.waiters]) w();
  }

  /** Called for every record as it arrives. */
  onRecord(fn: (r: AuditRecord) => void): void {
    this.listeners.push(fn);
  }

  /** Distinct input offsets with at least one output record so far. */
  get covered(): number {
    return this.counts.size;
  }

  /** Records of one topic (the output topic by default). */
  of(topic = this.opts.outputTopic): AuditRecord[] {
    return this.records.filter((r) => r.topic === topic);
  }

  /** Resolves once `pred(records)` holds (checked as records arrive and every 100 ms); rejects after `timeoutMs`. */
  waitFor(pred: (records: AuditRecord[]) => boolean, timeoutMs: number, what: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = () => {
        if (!pred(this.records)) return;
        cleanup();
        resolve();
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`audit: timed out after ${timeoutMs} ms waiting for ${what} (${this.covered} input offsets covered, ${this.predictions.length} predictions, ${this.deadLetters.length} DLQ records, ${this.records.length} records read)`));
      }, timeoutMs);
      const poll = setInterval(check, 100);
      const cleanup = () => {
        clearTimeout(timer);
        clearInterval(poll);
        this.waiters.delete(check);
      };
      this.waiters.add(check);
      check();
    });
  }

  /** Waits until every input offset below `ends` (partition → end offset) has an output record. */
  waitForCoverage(ends: Map<number, number>, timeoutMs: number): Promise<void> {
    let total = 0;
    for (const e of ends.values()) total += e;
    return this.waitFor(() => this.covered >= total && this.report(ends).lost.length === 0, timeoutMs, `all ${total} input offsets`);
  }

  /** Waits until this reader has read everything written so far to the output and DLQ topics. */
  async catchUp(timeoutMs = 30_000): Promise<void> {
    const targets: [string, number][] = [];
    for (const topic of this.topics) {
      for (const [p, end] of await endOffsets(topic, this.brokers)) if (end > 0) targets.push([`${topic}:${p}`, end]);
    }
    await this.waitFor(() => targets.every(([k, end]) => (this.positions.get(k) ?? 0) >= end), timeoutMs, 'the audit reader to reach the end of its topics');
  }

  /**
   * Waits until every offset of the input topic (its low to high watermark) is accounted for,
   * then `quietMs` more for stragglers, and reports (also when the timeout ran out first).
   */
  async finish(o: FinishOptions = {}): Promise<AuditReport> {
    const quietMs = o.quietMs ?? 1500;
    const deadline = Date.now() + (o.timeoutMs ?? 60_000);
    const ranges: InputRanges = await watermarks(this.opts.inputTopic, this.brokers);
    let report = this.report(ranges);
    while (Date.now() < deadline) {
      report = this.report(ranges);
      if (report.lost.length === 0 && Date.now() - this.lastArrival >= quietMs) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    return report;
  }

  /** Accounts for every input offset in `ranges` (e.g. endOffsets() of the input topic). */
  report(ranges: InputRanges): AuditReport {
    const lost: { partition: number; offset: number }[] = [];
    const duplicates: OffsetCount[] = [];
    let inputs = 0;
    let inRange = 0;
    let extraCopies = 0;
    for (const [partition, r] of ranges) {
      const { low, high } = typeof r === 'number' ? { low: 0, high: r } : r;
      for (let offset = low; offset < high; offset++) {
        inputs++;
        const c = this.counts.get(`${partition}:${offset}`);
        if (!c) lost.push({ partition, offset });
        else {
          inRange++;
          if (c.predictions + c.dlq > 1) duplicates.push(c);
        }
      }
    }
    for (const c of this.counts.values()) extraCopies += c.predictions + c.dlq - 1;
    // Order per user and input partition. Predictions are keyed by user id, so a user's records
    // share one output partition and are read in the order they were written.
    const outOfOrder: OrderViolation[] = [];
    const outOfOrderFirst: OrderViolation[] = [];
    const last = new Map<string, number>();
    const lastFirst = new Map<string, number>();
    const seen = new Set<string>();
    const sorted = [...this.predictions].sort((a, b) => a.partition - b.partition || a.offset - b.offset);
    for (const r of sorted) {
      const user = r.value.user_id;
      const k = `${user}\u0000${r.source.partition}`;
      const prev = last.get(k);
      if (prev !== undefined && r.source.offset < prev) outOfOrder.push({ user, partition: r.source.partition, offset: r.source.offset, after: prev });
      last.set(k, Math.max(prev ?? -1, r.source.offset));
      const id = `${r.source.partition}:${r.source.offset}`;
      if (seen.has(id)) continue;
      seen.add(id);
      const prevFirst = lastFirst.get(k);
      if (prevFirst !== undefined && r.source.offset < prevFirst) outOfOrderFirst.push({ user, partition: r.source.partition, offset: r.source.offset, after: prevFirst });
      lastFirst.set(k, Math.max(prevFirst ?? -1, r.source.offset));
    }
    const byTopic: Record<string, number> = {};
    for (const r of this.records) byTopic[r.topic] = (byTopic[r.topic] ?? 0) + 1;
    return {
      inputs,
      predictions: this.predictions.length,
      dlq: this.deadLetters.length,
      lost,
      duplicates,
      extraCopies,
      outOfOrder,
      outOfOrderFirst,
      unexpected: this.counts.size - inRange,
      unattributed: this.records.length - this.predictions.length - this.deadLetters.length,
      byTopic,
      perOffset: this.counts,
    };
  }

  /**
   * For failure messages: records per topic as the broker counts them (high - low watermark;
   * includes transaction markers) next to what this reader received, to tell a stuck engine
   * from a stuck reader.
   */
  async brokerCounts(): Promise<string> {
    try {
      const parts: string[] = [];
      for (const topic of this.topics) {
        let n = 0;
        for (const { low, high } of (await watermarks(topic, this.brokers)).values()) n += high - low;
        parts.push(`${topic}: broker ${n}, read ${this.of(topic).length}`);
      }
      return parts.join('; ');
    } catch (err) {
      return `(no broker counts: ${(err as Error).message})`;
    }
  }

  async stop(): Promise<void> {
    for (const w of [...this.waiters]) this.waiters.delete(w);
    await this.consumer.disconnect().catch(() => {});
  }
}

/** One line for test diagnostics. */
export function summarize(r: AuditReport): string {
  return (
    `inputs ${r.inputs}, predictions ${r.predictions}, dlq ${r.dlq}, lost ${r.lost.length}, duplicated offsets ${r.duplicates.length} (extra copies ${r.extraCopies}), ` +
    `out-of-order ${r.outOfOrder.length} (first copies ${r.outOfOrderFirst.length}), unexpected ${r.unexpected}, unattributed ${r.unattributed}, by topic ${JSON.stringify(r.byTopic)}` +
    (r.lost.length ? `; first lost ${JSON.stringify(r.lost.slice(0, 5))}` : '') +
    (r.duplicates.length ? `; first duplicates ${JSON.stringify(r.duplicates.slice(0, 5))}` : '') +
    (r.outOfOrderFirst.length ? `; first out of order ${JSON.stringify(r.outOfOrderFirst.slice(0, 5))}` : '')
  );
}

/** Up to `n` offsets as "partition:offset", for assertion messages. */
export const sample = (offsets: { partition: number; offset: number }[], n = 20): string => offsets.slice(0, n).map((o) => `${o.partition}:${o.offset}`).join(', ');

export interface TopicRecord {
  partition: number;
  offset: number;
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, string>;
}

/**
 * Every record of a non-transactional topic (the test's input), keyed "partition:offset":
 * reads from the low to the high watermark of each partition.
 */
export async function readTopic(topic: string, brokers = KAFKA_BROKERS, timeoutMs = 30_000): Promise<Map<string, TopicRecord>> {
  const ranges = await watermarks(topic, brokers);
  const out = new Map<string, TopicRecord>();
  let want = 0;
  for (const { low, high } of ranges.values()) want += high - low;
  if (want === 0) return out;
  const consumer = client(brokers).consumer({ groupId: uniqueName(`read-${topic}`), maxWaitTimeInMs: 100 });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`read ${out.size} of ${want} records of ${topic} in ${timeoutMs} ms`)), timeoutMs);
      void consumer.run({
        eachBatch: async ({ batch }) => {
          for (const m of batch.messages) out.set(`${batch.partition}:${m.offset}`, { partition: batch.partition, offset: Number(m.offset), key: m.key, value: m.value, headers: headersOf(m) });
          if (out.size >= want) {
            clearTimeout(timer);
            resolve();
          }
        },
      });
    });
  } finally {
    await consumer.disconnect();
  }
  return out;
}

/** For failure messages: the engine's own counters and gauges, and the end of its log. */
export async function engineDiagnostics(engine: { metrics(): Promise<string>; stderr(): string }, logChars = 6000): Promise<string> {
  const m = await engine.metrics().catch((e: Error) => `(no metrics: ${e.message})`);
  const gauges = m
    .split('\n')
    .filter((l) => /^scorestream_(?!process_|nodejs_|end_to_end|inference|batch_rows)/.test(l))
    .join('\n');
  return `engine metrics:\n${gauges}\nengine log (end):\n${engine.stderr().slice(-logChars)}`;
}

/** The longest time any input partition went without a new output record, within [from, to]. */
export function longestStall(records: AuditRecord[], from: number, to: number): number {
  const last = new Map<number, number>();
  let worst = 0;
  for (const r of records) {
    if (r.receivedAt < from || r.receivedAt > to) continue;
    const p = r.source.partition;
    const prev = last.get(p) ?? from;
    worst = Math.max(worst, r.receivedAt - prev);
    last.set(p, r.receivedAt);
  }
  return worst;
}
