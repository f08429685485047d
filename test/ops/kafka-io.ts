// Producing events to and reading outputs from the real test broker, for the ops tests.
import '../../src/kafka/kafkajs-read-committed.js'; // before kafkajs: fixes its read_committed filter
import type { Consumer, Producer } from 'kafkajs';
import { startEngine, type EngineProcess } from '../kit/engine-process.js';
import { createTopic, kafka, uniqueName, KAFKA_BROKERS, REDIS_URL } from '../kit/services.js';

export { eventValue, type EventSpec } from '../kit/events.js';
export { until } from '../kit/wait.js';

/** Topics, group and key prefix of one test run, and the engine env that points at them. */
export async function freshRun(tag: string, partitions = 4): Promise<{ input: string; output: string; validation: string; processing: string; late: string; env: Record<string, string> }> {
  const input = uniqueName(`${tag}-in`);
  const output = uniqueName(`${tag}-out`);
  const validation = uniqueName(`${tag}-val`);
  const processing = uniqueName(`${tag}-proc`);
  const late = uniqueName(`${tag}-late`);
  await createTopic(input, partitions);
  for (const t of [output, validation, processing, late]) await createTopic(t, 1);
  return {
    input,
    output,
    validation,
    processing,
    late,
    env: {
      KAFKA_BROKERS,
      REDIS_URL,
      INPUT_TOPIC: input,
      OUTPUT_TOPIC: output,
      DLQ_VALIDATION_TOPIC: validation,
      DLQ_PROCESSING_TOPIC: processing,
      DLQ_LATE_TOPIC: late,
      KAFKA_GROUP_ID: uniqueName(`${tag}-group`),
      REDIS_KEY_PREFIX: `${uniqueName(tag)}:`,
      WORKERS: '2',
    },
  };
}

export async function connectProducer(): Promise<Producer> {
  const p = kafka().producer({ allowAutoTopicCreation: false });
  await p.connect();
  return p;
}

/** Sends values keyed by user (so a user's events share a partition, in order). */
export async function produce(p: Producer, topic: string, records: { key: string; value: string }[]): Promise<void> {
  if (records.length) await p.send({ topic, acks: -1, messages: records });
}

export interface OutRecord {
  partition: number;
  offset: number;
  key: string | null;
  value: string;
  headers: Record<string, string>;
}

/** Reads a topic from the beginning into `records` until stopped. */
export async function collect(topic: string): Promise<{ records: OutRecord[]; waitFor(n: number, ms: number): Promise<void>; stop(): Promise<void> }> {
  const consumer: Consumer = kafka().consumer({ groupId: uniqueName('ops-reader'), maxWaitTimeInMs: 100 });
  const records: OutRecord[] = [];
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ partition, message }) => {
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(message.headers ?? {})) headers[k] = String(v);
      records.push({ partition, offset: Number(message.offset), key: message.key?.toString() ?? null, value: message.value?.toString() ?? '', headers });
    },
  });
  return {
    records,
    async waitFor(n, ms) {
      const deadline = Date.now() + ms;
      while (records.length < n) {
        if (Date.now() > deadline) throw new Error(`${topic}: ${records.length} of ${n} records after ${ms} ms`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    stop: () => consumer.disconnect(),
  };
}

/** Input offsets (partition:offset) an output record says it came from. */
export const sourceOf = (r: OutRecord) => {
  const s = JSON.parse(r.value).source;
  return `${s.partition}:${s.offset}`;
};

/** Every offset (partition:offset) the topic holds, from its high watermarks. */
export async function allOffsets(topic: string): Promise<string[]> {
  const admin = kafka().admin();
  await admin.connect();
  try {
    const out: string[] = [];
    for (const p of await admin.fetchTopicOffsets(topic)) for (let o = Number(p.low); o < Number(p.high); o++) out.push(`${p.partition}:${o}`);
    return out;
  } finally {
    await admin.disconnect();
  }
}

export type FreshRun = Awaited<ReturnType<typeof freshRun>>;
export type Collector = Awaited<ReturnType<typeof collect>>;

export interface OpsRun {
  run: FreshRun;
  producer: Producer;
  /** The output topic, collected from the start. */
  out: Collector;
  /** Starts an engine (still running after the body: killed). */
  start(env: Record<string, string>, args?: string[]): Promise<EngineProcess>;
}

/**
 * One ops test run: fresh topics, a connected producer and the output collected, for `body`.
 * Afterwards, whatever happened: the engines it started killed, the producer disconnected, the
 * collector stopped.
 */
export async function withOpsRun(tag: string, body: (r: OpsRun) => Promise<void>): Promise<void> {
  const run = await freshRun(tag);
  const producer = await connectProducer();
  const out = await collect(run.output);
  const engines: EngineProcess[] = [];
  try {
    await body({ run, producer, out, start: async (env, args = []) => engines[engines.push(await startEngine(env, args)) - 1] });
  } finally {
    for (const e of engines) await e.kill9();
    await producer.disconnect();
    await out.stop();
  }
}
