// Shared pieces of the scale tests (test/scale/*.test.ts): a group of engine processes on one
// topic fed at a steady rate, their partition assignments (from their logs), and what the
// output says about order, duplicates and pauses.
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { after, before } from 'node:test';
import type { Cluster } from 'ioredis';
import { Audit, endOffsets, type AuditedRecord, type Prediction } from '../kit/audit.js';
import { startEngine, type EngineProcess } from '../kit/engine-process.js';
import { byUser, expectedFeatures, randomEvent, rng, type TestEvent } from '../kit/events.js';
import { RateProducer, connectProducer } from '../kit/produce.js';
import { CLUSTER_NODES, clusterClient, clusterUp, readHashes } from '../kit/redis-cluster.js';
import { createScenario, type Scenario } from '../kit/scenario.js';
import { assertServicesReachable, kafka, uniqueName } from '../kit/services.js';

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

export interface ScaleHarness {
  /** Every engine process started (killed after the test; logs to SCALE_LOG_DIR first when set). */
  members: Member[];
  /** Audit readers (stopped after the test). */
  readers: Audit[];
  /** Input producers and the like (stopped first after the test). */
  stoppers: (() => Promise<void>)[];
  /** The Redis Cluster client (connected before the test). */
  cluster(): Cluster;
  /** Starts `n` members with `env` and waits until each is ready. */
  startGroup(env: Record<string, string>, n?: number): Promise<Member[]>;
  /**
   * A fresh group scenario under load: 3 members started and balanced, the audit reader started,
   * then the steady input (`t0`: when it started).
   */
  startLoaded(o: LoadedOptions): Promise<LoadedGroup>;
}

export interface LoadedOptions extends GroupOptions {
  rate: number;
  users: number;
  seed: number;
}

export interface LoadedGroup {
  sc: Scenario;
  env: Record<string, string>;
  group: Member[];
  reader: Audit;
  input: SteadyInput;
  t0: number;
}

/** Hooks of a scale test file: services checked and the Redis Cluster up before; everything started stopped after. */
export function scaleHarness(): ScaleHarness {
  let cluster: Cluster | null = null;
  const h: ScaleHarness = {
    members: [],
    readers: [],
    stoppers: [],
    cluster: () => cluster!,
    async startGroup(env, n = 3) {
      const group = await Promise.all(Array.from({ length: n }, () => startMember(env)));
      h.members.push(...group);
      await Promise.all(group.map((m) => m.engine.waitReady(90_000)));
      return group;
    },
    async startLoaded(o) {
      const { sc, env } = await groupScenario(o);
      const group = await h.startGroup(env);
      await waitBalanced(sc.groupId, group, o.partitions, 60_000);
      const reader = await Audit.start(sc.auditOptions);
      h.readers.push(reader);
      const input = await steadyInput(sc.input, o.partitions, o.rate, o.users, o.seed);
      h.stoppers.push(input.stop);
      return { sc, env, group, reader, input, t0: Date.now() };
    },
  };
  before(async () => {
    await assertServicesReachable();
    clusterUp();
    cluster = clusterClient();
  });
  after(async () => {
    await Promise.all(h.stoppers.map((s) => s().catch(() => {})));
    if (process.env.SCALE_LOG_DIR) {
      mkdirSync(process.env.SCALE_LOG_DIR, { recursive: true });
      for (const m of h.members) writeFileSync(`${process.env.SCALE_LOG_DIR}/${m.name.replace(/\W+/g, '_')}.log`, m.engine.stderr());
    }
    await Promise.all(h.members.map((m) => m.engine.kill9()));
    await Promise.all(h.readers.map((r) => r.stop()));
    cluster?.disconnect();
  });
  return h;
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

export interface SteadyInput {
  rp: RateProducer;
  stop: () => Promise<void>;
}

/** Steady open-loop input: `rate` events/s over `users` users, event time = send time. */
export async function steadyInput(topic: string, partitions: number, rate: number, users: number, seed: number): Promise<SteadyInput> {
  const producer = await connectProducer();
  const r = rng(seed);
  const rp = new RateProducer(topic, producer, { rate, partitions, make: (_i, now) => randomEvent(r, users, 'su', now) });
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

/** Each user's feature counters in the Redis Cluster are exactly what the user's sent events add up to. */
export async function assertExactFeatures(cluster: Cluster, sent: readonly TestEvent[], keyPrefix: string): Promise<void> {
  const users = byUser(sent);
  const ids = [...users.keys()];
  const hashes = await readHashes(cluster, ids.map((u) => keyPrefix + u));
  let wrong = 0;
  let firstWrong = '';
  for (const u of ids) {
    const h = hashes.get(keyPrefix + u)!;
    const { final } = expectedFeatures(users.get(u)!, META.cold_start);
    const got = { v: Number(h.v), c: Number(h.c), p: Number(h.p), t: Number(h.t), g: Number(h.g) };
    if (JSON.stringify(got) !== JSON.stringify(final) && !wrong++) firstWrong = `${u}: got ${JSON.stringify(got)}, want ${JSON.stringify(final)}`;
  }
  assert.equal(wrong, 0, `exact features for all ${ids.length} users in the cluster (first wrong: ${firstWrong})`);
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
