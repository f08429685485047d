// The fault suite's audit: reads the output topic and the DLQ topics (read_committed, kafkajs's
// default, so exactly-once runs see only committed transactions) and checks that every input
// offset ended as exactly one prediction or DLQ record. Reports lost, duplicated and
// out-of-order events. It runs while the test runs, so it also timestamps when each record
// became visible (what "time to first new output" is measured on).
import '../../src/kafka/kafkajs-read-committed.js'; // before kafkajs: fixes its read_committed filter
import { Kafka, logLevel, type Consumer } from 'kafkajs';
import { KAFKA_BROKERS } from './services.js';
import { createTopicsReady } from '../../src/kafka/kafka-topics.js';

export interface AuditOptions {
  /** Default KAFKA_BROKERS (the shared broker). */
  brokers?: string;
  inputTopic: string;
  outputTopic: string;
  /** validation_errors, processing_errors, late_events_dlq of the run. */
  dlqTopics: string[];
}

export interface AuditRecord {
  topic: string;
  partition: number;
  offset: number;
  key: string | null;
  value: Buffer;
  headers: Record<string, string>;
  /** The record's CreateTime (the engine's producer clock). */
  timestamp: number;
  /** When the audit consumer received it. */
  receivedAt: number;
  /** The input position the record names in value.source. */
  source: { topic: string; partition: number; offset: number };
}

export interface AuditReport {
  /** Input offsets (from the input topic's low/high watermarks). */
  expected: number;
  /** Input offsets with at least one output or DLQ record. */
  accounted: number;
  lost: number;
  /** Up to 20 lost offsets as "partition:offset". */
  lostSample: string[];
  /** Records beyond the first for an input offset. */
  duplicates: number;
  /** Predictions whose first appearance came after a later event of the same user. */
  outOfOrder: number;
  outOfOrderSample: string[];
  /** Records per topic. */
  byTopic: Record<string, number>;
  /** Records whose value names no (or a malformed) source. */
  unattributed: number;
}

export interface FinishOptions {
  /** Stop waiting once every input offset is accounted for and nothing arrived for this long. Default 1500. */
  quietMs?: number;
  /** Give up waiting (and report what is missing) after this long. Default 60 s. */
  timeoutMs?: number;
}

/** Lost/duplicate/order summary for test output. */
export function summary(r: AuditReport): string {
  return `expected ${r.expected}, accounted ${r.accounted}, lost ${r.lost}, duplicates ${r.duplicates}, out-of-order ${r.outOfOrder}, by topic ${JSON.stringify(r.byTopic)}`;
}

export class Audit {
  readonly records: AuditRecord[] = [];
  /** Input offsets ("partition:offset") with at least one record so far. */
  private readonly sources = new Set<string>();
  private readonly listeners: ((r: AuditRecord) => void)[] = [];
  private lastArrival = Date.now();
  private readonly consumer: Consumer;

  private constructor(private readonly kafka: Kafka, private readonly opts: AuditOptions) {
    // A fresh group every time, from the beginning; short fetch waits so disconnect is quick.
    this.consumer = kafka.consumer({ groupId: `audit-${opts.outputTopic}-${Date.now().toString(36)}`, maxWaitTimeInMs: 100, sessionTimeout: 30_000 });
  }

  /** Creates any missing topic (4 partitions) and starts reading all of them from the beginning. */
  static async start(opts: AuditOptions): Promise<Audit> {
    const kafka = new Kafka({
      clientId: 'scorestream-audit',
      brokers: (opts.brokers ?? KAFKA_BROKERS).split(','),
      logLevel: logLevel.NOTHING,
      // The broker-outage test stops the broker under the audit: keep retrying through it.
      retry: { retries: 100, initialRetryTime: 200, maxRetryTime: 2000 },
    });
    const admin = kafka.admin();
    await admin.connect();
    try {
      const topics = [opts.inputTopic, opts.outputTopic, ...opts.dlqTopics];
      await createTopicsReady(admin, topics, 4);
    } finally {
      await admin.disconnect();
    }
    const audit = new Audit(kafka, opts);
    await audit.run();
    return audit;
  }

  /** Called for every record as it arrives. */
  onRecord(fn: (r: AuditRecord) => void): void {
    this.listeners.push(fn);
  }

  /** Distinct input offsets accounted for so far. */
  get accounted(): number {
    return this.sources.size;
  }

  /** Records of one topic (the output topic by default). */
  of(topic = this.opts.outputTopic): AuditRecord[] {
    return this.records.filter((r) => r.topic === topic);
  }

  /** Resolves once `pred` holds for the records received so far (checked on every arrival). */
  async waitFor(pred: (records: AuditRecord[]) => boolean, timeoutMs: number, what: string): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!pred(this.records)) {
      if (Date.now() > deadline) throw new Error(`audit: timed out after ${timeoutMs} ms waiting for ${what} (${this.records.length} records so far)`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Waits until every input offset is accounted for (then `quietMs` more for stragglers) and reports. */
  async finish(o: FinishOptions = {}): Promise<AuditReport> {
    const quietMs = o.quietMs ?? 1500;
    const deadline = Date.now() + (o.timeoutMs ?? 60_000);
    const expected = await this.inputOffsets();
    let report = this.report(expected);
    while (Date.now() < deadline) {
      report = this.report(expected);
      if (report.lost === 0 && Date.now() - this.lastArrival >= quietMs) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    return report;
  }

  async stop(): Promise<void> {
    await this.consumer.disconnect().catch(() => {});
  }

  /**
   * For failure messages: records per topic as the broker counts them (high - low watermark;
   * includes transaction markers) next to what this reader received, to tell a stuck engine
   * from a stuck reader.
   */
  async brokerCounts(): Promise<string> {
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      const parts: string[] = [];
      for (const topic of [this.opts.outputTopic, ...this.opts.dlqTopics]) {
        const offsets = await admin.fetchTopicOffsets(topic);
        const n = offsets.reduce((a, p) => a + Number(p.high) - Number(p.low), 0);
        parts.push(`${topic}: broker ${n}, read ${this.of(topic).length}`);
      }
      return parts.join('; ');
    } catch (err) {
      return `(no broker counts: ${(err as Error).message})`;
    } finally {
      await admin.disconnect().catch(() => {});
    }
  }

  private async run(): Promise<void> {
    const c = this.consumer;
    await c.connect();
    await c.subscribe({ topics: [this.opts.outputTopic, ...this.opts.dlqTopics], fromBeginning: true });
    await c.run({
      partitionsConsumedConcurrently: 4,
      eachBatch: async ({ batch }) => {
        const now = Date.now();
        for (const m of batch.messages) {
          const headers: Record<string, string> = {};
          for (const [k, v] of Object.entries(m.headers ?? {})) if (v !== undefined) headers[k] = Array.isArray(v) ? String(v[0]) : String(v);
          const rec: AuditRecord = {
            topic: batch.topic,
            partition: batch.partition,
            offset: Number(m.offset),
            key: m.key ? m.key.toString('utf8') : null,
            value: m.value ?? Buffer.alloc(0),
            headers,
            timestamp: Number(m.timestamp),
            receivedAt: now,
            source: sourceOfValue(m.value),
          };
          this.records.push(rec);
          if (rec.source.topic === this.opts.inputTopic) this.sources.add(`${rec.source.partition}:${rec.source.offset}`);
          for (const fn of this.listeners) fn(rec);
        }
        if (batch.messages.length) this.lastArrival = now;
      },
    });
  }

  /** Every offset of the input topic, as low/high watermark ranges per partition. */
  private async inputOffsets(): Promise<Map<number, { low: number; high: number }>> {
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      const offsets = await admin.fetchTopicOffsets(this.opts.inputTopic);
      return new Map(offsets.map((p) => [p.partition, { low: Number(p.low), high: Number(p.high) }]));
    } finally {
      await admin.disconnect();
    }
  }

  private report(expected: Map<number, { low: number; high: number }>): AuditReport {
    const input = this.opts.inputTopic;
    const seen = new Map<string, number>();
    const byTopic: Record<string, number> = {};
    let unattributed = 0;
    // Per user, per source partition: the highest source offset whose first output was seen.
    const userMax = new Map<string, number>();
    let outOfOrder = 0;
    const outOfOrderSample: string[] = [];
    for (const r of this.records) {
      byTopic[r.topic] = (byTopic[r.topic] ?? 0) + 1;
      const { topic, partition, offset } = r.source;
      if (topic !== input || !Number.isInteger(partition) || !Number.isInteger(offset)) {
        unattributed++;
        continue;
      }
      const k = `${partition}:${offset}`;
      const n = seen.get(k) ?? 0;
      seen.set(k, n + 1);
      // Order: an event's first prediction must not come after a later event of its user.
      // (A re-delivered duplicate going back in offsets is a duplicate, not a reorder.)
      if (r.topic === this.opts.outputTopic && n === 0 && r.key !== null) {
        const uk = `${r.key}\u0000${partition}`;
        const max = userMax.get(uk) ?? -1;
        if (offset < max) {
          outOfOrder++;
          if (outOfOrderSample.length < 20) outOfOrderSample.push(`user ${r.key}: ${k} after offset ${max}`);
        } else userMax.set(uk, offset);
      }
    }
    let total = 0;
    let accounted = 0;
    const lostSample: string[] = [];
    for (const [p, { low, high }] of expected) {
      for (let o = low; o < high; o++) {
        total++;
        if (seen.has(`${p}:${o}`)) accounted++;
        else if (lostSample.length < 20) lostSample.push(`${p}:${o}`);
      }
    }
    let duplicates = 0;
    for (const n of seen.values()) duplicates += n - 1;
    return { expected: total, accounted, lost: total - accounted, lostSample, duplicates, outOfOrder, outOfOrderSample, byTopic, unattributed };
  }
}

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
  const kafka = new Kafka({ clientId: 'scorestream-audit-read', brokers: brokers.split(','), logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  const ends = new Map((await admin.fetchTopicOffsets(topic)).map((p) => [p.partition, { low: Number(p.low), high: Number(p.high) }]));
  await admin.disconnect();
  const out = new Map<string, TopicRecord>();
  let want = 0;
  for (const { low, high } of ends.values()) want += high - low;
  if (want === 0) return out;
  const consumer = kafka.consumer({ groupId: `read-${topic}-${Date.now().toString(36)}`, maxWaitTimeInMs: 100 });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`read ${out.size} of ${want} records of ${topic} in ${timeoutMs} ms`)), timeoutMs);
      void consumer.run({
        eachBatch: async ({ batch }) => {
          for (const m of batch.messages) {
            const headers: Record<string, string> = {};
            for (const [k, v] of Object.entries(m.headers ?? {})) if (v !== undefined) headers[k] = String(Array.isArray(v) ? v[0] : v);
            out.set(`${batch.partition}:${m.offset}`, { partition: batch.partition, offset: Number(m.offset), key: m.key, value: m.value, headers });
          }
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

/** Predictions and DLQ records both name their input as value.source {topic, partition, offset}. */
function sourceOfValue(value: Buffer | null): { topic: string; partition: number; offset: number } {
  try {
    const s = JSON.parse(value?.toString('utf8') ?? 'null')?.source;
    return { topic: String(s?.topic ?? ''), partition: Number(s?.partition ?? NaN), offset: Number(s?.offset ?? NaN) };
  } catch {
    return { topic: '', partition: NaN, offset: NaN };
  }
}
