// Shared pieces of the scale tests (test/scale/*.test.ts): a group of engine processes on one
// topic fed at a steady rate, their partition assignments (from their logs), and what the
// output says about order, duplicates and pauses.
import { readFileSync } from 'node:fs';
import { Audit, createScenario, endOffsets, type AuditedRecord, type Prediction, type Scenario } from '../helpers/audit.js';
import { startEngine, type EngineProcess } from '../helpers/engine-process.js';
import { RateProducer, connectProducer, rng, type TestEvent } from '../helpers/produce.js';
import { CLUSTER_NODES } from '../helpers/redis-cluster.js';
import { kafka, uniqueName } from '../helpers/services.js';

export const META = JSON.parse(readFileSync('models/model.json', 'utf8')) as { model_version: string; cold_start: number[] };

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** One engine process of the group, with a name for messages. */
export interface Member {
  name: string;
  engine: EngineProcess;
  startedAt: number;
}

export interface Assignment {
  at: number;
  partitions: number[];
}

/** Every 'partitions assigned' line the process logged (LOG_LEVEL=info), oldest first. */
export function assignments(m: Member): Assignment[] {
  const out: Assignment[] = [];
  for (const line of m.engine.stderr().split('\n')) {
    if (!line.includes('partitions assigned')) continue;
    try {
      const j = JSON.parse(line) as { time: number; assigned: number[] };
      out.push({ at: j.time, partitions: j.assigned });
    } catch {
      // a line cut by kill -9
    }
  }
  return out;
}

export interface GroupOptions {
  prefix: string;
  partitions: number;
  env?: Record<string, string>;
}

/** A fresh scenario (topics, group, key prefix) whose engines use the local Redis Cluster. */
export async function groupScenario(o: GroupOptions): Promise<{ sc: Scenario; env: Record<string, string> }> {
  const sc = await createScenario(o.prefix, o.partitions);
  const env = {
    ...sc.env,
    WORKERS: '1',
    REDIS_CLUSTER_NODES: CLUSTER_NODES,
    LOG_LEVEL: 'info',
    TRANSACTIONAL_ID_PREFIX: uniqueName('tx'),
    ...o.env,
  };
  return { sc, env };
}

let memberSeq = 0;
export async function startMember(env: Record<string, string>): Promise<Member> {
  const startedAt = Date.now();
  const engine = await startEngine(env);
  return { name: `engine-${++memberSeq} (pid ${engine.child.pid})`, engine, startedAt };
}

/**
 * Waits until the group is Stable with exactly `members.length` members and the latest
 * assignments of `members` cover every partition once.
 */
export async function waitBalanced(groupId: string, members: Member[], partitions: number, timeoutMs: number): Promise<void> {
  const admin = kafka().admin();
  await admin.connect();
  const deadline = Date.now() + timeoutMs;
  let last = '';
  try {
    while (Date.now() < deadline) {
      const { groups } = await admin.describeGroups([groupId]);
      const g = groups[0];
      const latest = members.map((m) => assignments(m).at(-1)?.partitions ?? []);
      const all = latest.flat().sort((a, b) => a - b);
      last = `state ${g.state}, ${g.members.length} members, assignments ${JSON.stringify(latest)}`;
      if (g.state === 'Stable' && g.members.length === members.length && all.length === partitions && all.every((p, i) => p === i) && latest.every((l) => l.length > 0)) return;
      await sleep(200);
    }
  } finally {
    await admin.disconnect();
  }
  throw new Error(`group ${groupId} not balanced over ${members.length} members within ${timeoutMs} ms (${last})`);
}

/** Steady open-loop input: `rate` events/s over `users` users, event time = send time. */
export async function steadyInput(topic: string, partitions: number, rate: number, users: number, seed: number): Promise<{ rp: RateProducer; stop: () => Promise<void> }> {
  const producer = await connectProducer();
  const r = rng(seed);
  const types: TestEvent['event_type'][] = ['view', 'view', 'view', 'view', 'view', 'view', 'add_to_cart', 'add_to_cart', 'purchase'];
  const rp = new RateProducer(topic, producer, {
    rate,
    partitions,
    make: (_i, now) => ({
      user_id: `su${Math.floor(r() * users)}`,
      product_id: `p${Math.floor(r() * 1000)}`,
      category: `c${Math.floor(r() * 20)}`,
      event_type: types[Math.floor(r() * types.length)],
      timestamp_ms: now,
    }),
  });
  rp.start();
  return {
    rp,
    stop: async () => {
      await rp.stop();
      await producer.disconnect();
    },
  };
}

/** Waits until the producer has sent `n` events (or throws after `timeoutMs`). */
export async function waitSent(rp: RateProducer, n: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (rp.sent.length < n) {
    if (Date.now() > deadline) throw new Error(`producer sent only ${rp.sent.length} of ${n} events in ${timeoutMs} ms`);
    await sleep(50);
  }
}

/**
 * Order check that tolerates at-least-once replays: per user and input partition, the first
 * output of each input offset comes in increasing offset order (a consumer that drops records
 * whose source offset it has seen gets every user's events in input order). Replayed copies
 * may repeat earlier offsets. Returns the violations.
 */
export function firstOccurrenceOrder(predictions: AuditedRecord<Prediction>[]): { user: string; partition: number; offset: number; after: number }[] {
  const sorted = [...predictions].sort((a, b) => a.partition - b.partition || a.offset - b.offset);
  const seen = new Set<string>();
  const maxFirst = new Map<string, number>();
  const bad: { user: string; partition: number; offset: number; after: number }[] = [];
  for (const r of sorted) {
    const id = `${r.source.partition}:${r.source.offset}`;
    if (seen.has(id)) continue;
    seen.add(id);
    const k = `${r.value.user_id}\u0000${r.source.partition}`;
    const prev = maxFirst.get(k);
    if (prev !== undefined && r.source.offset < prev) bad.push({ user: r.value.user_id, partition: r.source.partition, offset: r.source.offset, after: prev });
    maxFirst.set(k, Math.max(prev ?? -1, r.source.offset));
  }
  return bad;
}

export interface Gap {
  ms: number;
  from: number;
  to: number;
}

/** Longest interval between consecutive times (sorted) that lies within [start, end]. */
export function longestGap(times: number[], start: number, end: number): Gap {
  const ts = [...times].sort((a, b) => a - b);
  let best: Gap = { ms: 0, from: start, to: start };
  for (let i = 1; i < ts.length; i++) {
    const a = ts[i - 1];
    const b = ts[i];
    if (a < start || b > end) continue;
    if (b - a > best.ms) best = { ms: b - a, from: a, to: b };
  }
  return best;
}

/** processing_time of every output, overall and per input partition (first copies and replays alike). */
export function outputTimes(predictions: AuditedRecord<Prediction>[]): { all: number[]; byPartition: Map<number, number[]> } {
  const all: number[] = [];
  const byPartition = new Map<number, number[]>();
  for (const p of predictions) {
    all.push(p.value.processing_time);
    (byPartition.get(p.source.partition) ?? byPartition.set(p.source.partition, []).get(p.source.partition)!).push(p.value.processing_time);
  }
  return { all, byPartition };
}

/**
 * Hand-over gap of each given partition at `at` (a kill): from its last output at or before `at`
 * to its first output after; the longest of them.
 */
export function longestHandoverGap(byPartition: Map<number, number[]>, partitions: Iterable<number>, at: number): Gap & { partition: number } {
  let best = { ms: 0, from: at, to: at, partition: -1 };
  for (const p of partitions) {
    const ts = byPartition.get(p) ?? [];
    let before = -Infinity;
    let after = Infinity;
    for (const t of ts) {
      if (t <= at && t > before) before = t;
      if (t > at && t < after) after = t;
    }
    if (Number.isFinite(before) && Number.isFinite(after) && after - before > best.ms) best = { ms: after - before, from: before, to: after, partition: p };
  }
  return best;
}

/** Longest per-partition gap within [start, end], over the given partitions. */
export function longestPartitionGap(byPartition: Map<number, number[]>, partitions: Iterable<number>, start: number, end: number): Gap & { partition: number } {
  let best = { ms: 0, from: start, to: start, partition: -1 };
  for (const p of partitions) {
    const g = longestGap(byPartition.get(p) ?? [], start, end);
    if (g.ms > best.ms) best = { ...g, partition: p };
  }
  return best;
}

export { Audit, endOffsets };
