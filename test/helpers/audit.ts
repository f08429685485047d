// Reads what the engine wrote (output topic and DLQ topics) from the beginning with a fresh
// consumer group (read_committed, kafkajs's default) and accounts for every input offset through
// value.source (topic/partition/offset of the input): how many predictions / DLQ records each got, which got none (lost),
// which got more than one (duplicates), and per user whether outputs came in input order.
import '../../src/kafka/kafkajs-read-committed.js'; // before kafkajs: fixes its read_committed filter
import type { Consumer, IHeaders } from 'kafkajs';
import { createTopic, kafka, uniqueName } from './services.js';

export interface Prediction {
  user_id: string;
  product_id: string;
  prediction: number;
  event_time: number;
  processing_time: number;
  model_version: string;
  fallback: boolean;
}

/** One record read back, with where it came from. */
export interface AuditedRecord<V = unknown> {
  topic: string;
  partition: number;
  offset: number;
  key: string | null;
  value: V;
  source: { topic: string; partition: number; offset: number };
  /** When this process read it (epoch ms). */
  readAt: number;
}

export interface OffsetCount {
  partition: number;
  offset: number;
  predictions: number;
  dlq: number;
}

export interface AuditReport {
  /** Input offsets accounted for (those below the given end offsets). */
  inputs: number;
  predictions: number;
  dlq: number;
  /** Input offsets with no prediction and no DLQ record. */
  lost: { partition: number; offset: number }[];
  /** Input offsets with more than one output record in total. */
  duplicates: OffsetCount[];
  /** A user's output whose source offset is below an earlier output of that user from the same input partition. */
  outOfOrder: { user: string; partition: number; offset: number; after: number }[];
  /** Outputs naming an input offset at or past the end offsets given (should not exist). */
  unexpected: number;
  /** Per input offset, "partition:offset" → counts. */
  perOffset: Map<string, OffsetCount>;
}

function header(h: IHeaders | undefined, name: string): string | undefined {
  const v = h?.[name];
  if (v === undefined) return undefined;
  return Array.isArray(v) ? String(v[0]) : String(v);
}

/** High watermarks (end offsets) per partition of a topic. */
export async function endOffsets(topic: string): Promise<Map<number, number>> {
  const admin = kafka().admin();
  await admin.connect();
  try {
    const o = await admin.fetchTopicOffsets(topic);
    return new Map(o.map((p) => [p.partition, Number(p.high)]));
  } finally {
    await admin.disconnect();
  }
}

/** The group's committed offsets per partition of `topic` (-1 where none). */
export async function committedOffsets(groupId: string, topic: string): Promise<Map<number, number>> {
  const admin = kafka().admin();
  await admin.connect();
  try {
    const [t] = await admin.fetchOffsets({ groupId, topics: [topic] });
    return new Map(t.partitions.map((p) => [p.partition, Number(p.offset)]));
  } finally {
    await admin.disconnect();
  }
}

export interface AuditOptions {
  inputTopic: string;
  outputTopic: string;
  dlqTopics?: string[];
}

/**
 * A running reader of the output and DLQ topics. Start it before or after the engine; it reads
 * from the beginning either way. Call report() at any point; stop() when done.
 */
export class Audit {
  readonly predictions: AuditedRecord<Prediction>[] = [];
  readonly deadLetters: AuditedRecord<Record<string, unknown>>[] = [];
  /** Input "partition:offset" → counts, kept up to date as records arrive. */
  private readonly counts = new Map<string, OffsetCount>();
  /** Next offset to read per "topic:partition" of the topics read. */
  private readonly positions = new Map<string, number>();
  private readonly waiters = new Set<() => void>();

  private constructor(private readonly opts: AuditOptions, private readonly consumer: Consumer) {}

  static async start(opts: AuditOptions): Promise<Audit> {
    // Short fetch wait: disconnect() waits for the fetch in flight.
    const consumer = kafka().consumer({ groupId: uniqueName('audit'), maxWaitTimeInMs: 100 });
    const audit = new Audit(opts, consumer);
    await consumer.connect();
    for (const topic of [opts.outputTopic, ...(opts.dlqTopics ?? [])]) await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => audit.onBatch(batch.topic, batch.partition, batch.messages, Number(batch.lastOffset())),
    });
    return audit;
  }

  private onBatch(topic: string, partition: number, messages: { offset: string; key: Buffer | null; value: Buffer | null; headers?: IHeaders }[], lastOffset: number): void {
    const now = Date.now();
    const isOutput = topic === this.opts.outputTopic;
    for (const m of messages) {
      // Predictions and DLQ records both carry their input's position as value.source.
      const value = JSON.parse(m.value?.toString() ?? 'null');
      const source = { topic: String(value?.source?.topic ?? ''), partition: Number(value?.source?.partition), offset: Number(value?.source?.offset) };
      const rec = { topic, partition, offset: Number(m.offset), key: m.key?.toString() ?? null, value, source, readAt: now };
      if (source.topic !== this.opts.inputTopic) continue;
      const k = `${source.partition}:${source.offset}`;
      let c = this.counts.get(k);
      if (!c) this.counts.set(k, (c = { partition: source.partition, offset: source.offset, predictions: 0, dlq: 0 }));
      if (isOutput) {
        this.predictions.push(rec as AuditedRecord<Prediction>);
        c.predictions++;
      } else {
        this.deadLetters.push(rec as AuditedRecord<Record<string, unknown>>);
        c.dlq++;
      }
    }
    this.positions.set(`${topic}:${partition}`, lastOffset + 1);
    for (const w of [...this.waiters]) w();
  }

  /** Distinct input offsets that have at least one output record. */
  get covered(): number {
    return this.counts.size;
  }

  /** Resolves once `pred()` holds (checked as records arrive and every 100 ms); rejects after `timeoutMs`. */
  waitFor(pred: () => boolean, timeoutMs: number, what: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = () => {
        if (!pred()) return;
        cleanup();
        resolve();
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what} (${this.covered} input offsets covered, ${this.predictions.length} predictions, ${this.deadLetters.length} DLQ records read)`));
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
    for (const topic of [this.opts.outputTopic, ...(this.opts.dlqTopics ?? [])]) {
      for (const [p, end] of await endOffsets(topic)) if (end > 0) targets.push([`${topic}:${p}`, end]);
    }
    await this.waitFor(() => targets.every(([k, end]) => (this.positions.get(k) ?? 0) >= end), timeoutMs, 'the audit reader to reach the end of its topics');
  }

  /** Accounts for every input offset below `ends` (partition → end offset, e.g. from endOffsets()). */
  report(ends: Map<number, number>): AuditReport {
    const lost: { partition: number; offset: number }[] = [];
    const duplicates: OffsetCount[] = [];
    let inputs = 0;
    let inRange = 0;
    for (const [partition, end] of ends) {
      for (let offset = 0; offset < end; offset++) {
        inputs++;
        const c = this.counts.get(`${partition}:${offset}`);
        if (!c) lost.push({ partition, offset });
        else {
          inRange++;
          if (c.predictions + c.dlq > 1) duplicates.push(c);
        }
      }
    }
    // Output order per user and input partition: predictions are keyed by user id, so a user's
    // records share one output partition and are read in the order they were written.
    const outOfOrder: AuditReport['outOfOrder'] = [];
    const last = new Map<string, number>();
    const sorted = [...this.predictions].sort((a, b) => a.partition - b.partition || a.offset - b.offset);
    for (const r of sorted) {
      const k = `${r.value.user_id}\u0000${r.source.partition}`;
      const prev = last.get(k);
      if (prev !== undefined && r.source.offset < prev) outOfOrder.push({ user: r.value.user_id, partition: r.source.partition, offset: r.source.offset, after: prev });
      last.set(k, Math.max(prev ?? -1, r.source.offset));
    }
    return {
      inputs,
      predictions: this.predictions.length,
      dlq: this.deadLetters.length,
      lost,
      duplicates,
      outOfOrder,
      unexpected: this.counts.size - inRange,
      perOffset: this.counts,
    };
  }

  async stop(): Promise<void> {
    for (const w of [...this.waiters]) this.waiters.delete(w);
    await this.consumer.disconnect();
  }
}

/** One-shot audit: read everything written so far, report, stop. */
export async function audit(opts: AuditOptions, ends: Map<number, number>): Promise<AuditReport & { reader: Audit }> {
  const reader = await Audit.start(opts);
  try {
    await reader.catchUp();
    return { ...reader.report(ends), reader };
  } finally {
    await reader.stop();
  }
}

/** One line for test diagnostics. */
export function summarize(r: AuditReport): string {
  return `inputs ${r.inputs}, predictions ${r.predictions}, dlq ${r.dlq}, lost ${r.lost.length}, duplicates ${r.duplicates.length}, out-of-order ${r.outOfOrder.length}, unexpected ${r.unexpected}` +
    (r.lost.length ? `; first lost ${JSON.stringify(r.lost.slice(0, 5))}` : '') +
    (r.duplicates.length ? `; first duplicates ${JSON.stringify(r.duplicates.slice(0, 5))}` : '');
}

/**
 * Waits until every partition of the topics answers a ListOffsets request: right after creation a
 * busy broker can still say "This server does not host this topic-partition" for a moment.
 */
export async function waitForTopics(topics: string[], timeoutMs = 30_000): Promise<void> {
  const admin = kafka().admin();
  await admin.connect();
  const deadline = Date.now() + timeoutMs;
  try {
    for (const topic of topics) {
      for (;;) {
        try {
          await admin.fetchTopicOffsets(topic);
          break;
        } catch (err) {
          if (Date.now() > deadline) throw err;
          await new Promise((r) => setTimeout(r, 100));
        }
      }
    }
  } finally {
    await admin.disconnect();
  }
}

/** Fresh topics, group and Redis key prefix for one engine run, and the engine env naming them. */
export interface Scenario {
  input: string;
  output: string;
  validation: string;
  processing: string;
  late: string;
  groupId: string;
  keyPrefix: string;
  partitions: number;
  env: Record<string, string>;
  auditOptions: AuditOptions;
}

export async function createScenario(prefix: string, partitions = 4, redisUrl?: string): Promise<Scenario> {
  const s = {
    input: uniqueName(`${prefix}-in`),
    output: uniqueName(`${prefix}-out`),
    validation: uniqueName(`${prefix}-dlq-validation`),
    processing: uniqueName(`${prefix}-dlq-processing`),
    late: uniqueName(`${prefix}-dlq-late`),
    groupId: uniqueName(`${prefix}-group`),
    keyPrefix: `${uniqueName(prefix)}:u:`,
    partitions,
  };
  for (const [topic, n] of [[s.input, partitions], [s.output, partitions], [s.validation, 1], [s.processing, 1], [s.late, 1]] as const) await createTopic(topic, n);
  await waitForTopics([s.input, s.output, s.validation, s.processing, s.late]);
  const env: Record<string, string> = {
    KAFKA_BROKERS: process.env.KAFKA_BROKERS ?? '127.0.0.1:9092',
    INPUT_TOPIC: s.input,
    OUTPUT_TOPIC: s.output,
    DLQ_VALIDATION_TOPIC: s.validation,
    DLQ_PROCESSING_TOPIC: s.processing,
    DLQ_LATE_TOPIC: s.late,
    KAFKA_GROUP_ID: s.groupId,
    REDIS_KEY_PREFIX: s.keyPrefix,
    LOG_LEVEL: 'warn',
    // kafkajs 2 warns once about its default partitioner change; irrelevant here.
    KAFKAJS_NO_PARTITIONER_WARNING: '1',
  };
  if (redisUrl ?? process.env.REDIS_URL) env.REDIS_URL = (redisUrl ?? process.env.REDIS_URL)!;
  return { ...s, env, auditOptions: { inputTopic: s.input, outputTopic: s.output, dlqTopics: [s.validation, s.processing, s.late] } };
}
