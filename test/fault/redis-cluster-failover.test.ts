// Fault: Redis Cluster failover. A cluster of 3 masters + 3 replicas (`infra.sh cluster-ha-up`,
// node timeout 2 s); under load, one master is killed with SIGKILL. The engine does not crash and
// loses no output: events whose user lives on the dead master's slots fall back while nothing
// serves those slots, the cluster promotes the replica, the engine follows the new topology and
// scores normally again. Measured: how long the slots were down, when normal scoring resumed,
// and what the failover cost the features (replication is asynchronous: updates acknowledged by
// the old master just before the kill may never have reached its replica).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Cluster } from 'ioredis';
import { Audit, engineDiagnostics, sample, summarize } from '../kit/audit.js';
import { startEngine, type EngineProcess } from '../kit/engine-process.js';
import { numberedEvent } from '../kit/events.js';
import { startLoad } from '../kit/load.js';
import { engineEnv, topicsFor } from '../kit/scenario.js';
import { assertServicesReachable, kafka, uniqueName } from '../kit/services.js';
import { until } from '../kit/wait.js';
import { loadFeatureSet } from '../../src/features/feature-set.js';
import { featureKeyPrefix } from '../../src/features/redis-feature-store.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const PORTS = [7100, 7101, 7102, 7103, 7104, 7105];
const NODES = PORTS.map((p) => `127.0.0.1:${p}`).join(',');
const RATE = 1_000;
const USERS = 500;
const BEFORE_MS = 4_000;
const AFTER_KILL_MS = 16_000;
const EVENTS = (RATE * (BEFORE_MS + AFTER_KILL_MS)) / 1000;
/** Loose: failover itself takes node-timeout (2 s) plus an election; the machine is shared. */
const RESUME_BOUND_MS = 15_000;

const infra = (cmd: string) => execFileSync('bash', ['scripts/infra.sh', cmd], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'], timeout: 120_000 });

let engine: EngineProcess | null = null;
let cluster: Cluster | null = null;
let audit: Audit | null = null;
before(async () => {
  await assertServicesReachable();
  infra('cluster-ha-up');
});
after(async () => {
  await engine?.kill9();
  cluster?.disconnect();
  // The killed node is gone: the next run starts a fresh cluster.
  infra('cluster-ha-down');
  await audit?.stop();
});

interface Prediction {
  user_id: string;
  fallback: boolean;
  processing_time: number;
  event_time: number;
}

/** The master serving slot 0 (any master would do; this one is found the same way every run). */
function masterOfSlotZero(): { port: number; id: string } {
  const lines = execFileSync('redis-cli', ['-p', String(PORTS[0]), 'cluster', 'nodes'], { encoding: 'utf8' }).trim().split('\n');
  for (const l of lines) {
    const f = l.split(' ');
    if (f[2].includes('master') && f.slice(8).some((r) => r === '0' || r.startsWith('0-'))) return { port: Number(f[1].split(':')[1].split('@')[0]), id: f[0] };
  }
  throw new Error(`no master serves slot 0:\n${lines.join('\n')}`);
}

/** True once a live node other than `deadId` is master of slot 0 and the cluster says ok. */
function failedOver(deadId: string, alive: number): boolean {
  try {
    const info = execFileSync('redis-cli', ['-p', String(alive), 'cluster', 'info'], { encoding: 'utf8' });
    if (!info.includes('cluster_state:ok')) return false;
    const lines = execFileSync('redis-cli', ['-p', String(alive), 'cluster', 'nodes'], { encoding: 'utf8' }).trim().split('\n');
    return lines.some((l) => {
      const f = l.split(' ');
      return f[0] !== deadId && f[2].includes('master') && !f[2].includes('fail') && f.slice(8).some((r) => r === '0' || r.startsWith('0-'));
    });
  } catch {
    return false;
  }
}

test('Redis Cluster master killed under load: no crash, nothing lost, fallback only while its slots are down, normal scoring after the failover', { timeout: 180_000 }, async (t) => {
  const name = uniqueName('fault-redis-failover');
  const topics = topicsFor(name);
  const a = (audit = await Audit.start({ inputTopic: topics.input, outputTopic: topics.output, dlqTopics: [topics.validation, topics.processing, topics.late], createTopics: 4 }));
  const env = engineEnv(name, topics, { REDIS_CLUSTER_NODES: NODES, ON_FEATURE_ERROR: 'fallback', REDIS_COMMAND_TIMEOUT_MS: '500' });
  engine = await startEngine(env);
  await engine.waitReady();
  const load = await startLoad({ kafka: kafka(), topic: topics.input, rate: RATE, total: EVENTS, message: (i) => ({ key: `u${i % USERS}`, value: JSON.stringify(numberedEvent(i, USERS)) }) });
  const victim = masterOfSlotZero();
  const alive = PORTS.find((p) => p !== victim.port)!;
  let killAt = 0;
  let failoverAt = 0;
  try {
    await new Promise((r) => setTimeout(r, BEFORE_MS));
    const pid = Number(readFileSync(`${ROOT}.infra/redis-cluster-ha/${victim.port}/redis.pid`, 'utf8').trim());
    killAt = Date.now();
    process.kill(pid, 'SIGKILL');
    await until(() => failedOver(victim.id, alive), 30_000, 'a replica promoted for the killed master');
    failoverAt = Date.now();
    await load.done;
  } finally {
    await load.stop();
  }
  const report = await a.finish({ timeoutMs: 90_000 });
  t.diagnostic(summarize(report));
  assert.equal(engine.child.exitCode, null, `engine exited during the failover:\n${engine.stderr().slice(-2000)}`);
  assert.equal(report.inputs, EVENTS);
  if (report.lost.length) assert.fail(`lost ${report.lost.length}: ${sample(report.lost)}\n${await a.brokerCounts()}\n${await engineDiagnostics(engine)}`);
  assert.equal(report.extraCopies, 0, 'no duplicates: the engine never restarted');
  assert.equal(report.outOfOrderFirst.length, 0, JSON.stringify(report.outOfOrderFirst.slice(0, 20)));

  const preds = a.of(topics.output).map((r) => JSON.parse(r.value.toString()) as Prediction);
  const fallbacks = preds.filter((p) => p.fallback);
  const lastFallback = Math.max(killAt, ...fallbacks.map((p) => p.processing_time));
  const resumeMs = lastFallback - failoverAt;
  const normalAfter = preds.filter((p) => !p.fallback && p.processing_time > lastFallback).length;
  t.diagnostic(
    `killed master :${victim.port} at +${BEFORE_MS} ms; replica promoted after ${failoverAt - killAt} ms; fallbacks ${fallbacks.length} of ${preds.length}, ` +
      `last one ${resumeMs} ms after the promotion; normal predictions after it: ${normalAfter}`,
  );
  // Feature calls run one at a time, in order: while a call waits on the dead master, every
  // user's events wait behind it, not only those on its slots.
  const delays = preds.map((p) => p.processing_time - p.event_time);
  t.diagnostic(`end-to-end delay around the failover: max ${Math.max(...delays)} ms; ${delays.filter((d) => d > 1000).length} events over 1 s`);
  assert.ok(fallbacks.every((p) => p.processing_time >= killAt), 'no fallback before the kill');
  assert.ok(resumeMs <= RESUME_BOUND_MS, `normal scoring within ${RESUME_BOUND_MS} ms of the promotion (last fallback ${resumeMs} ms after)`);
  assert.ok(normalAfter > RATE, `normal scoring after the failover (${normalAfter} predictions)`);

  // What the failover cost the features. Per user: the events applied = its events minus those
  // that fell back (never written); the hash's counters (views + cart adds + purchases) hold
  // what the surviving node has.
  const keyPrefix = featureKeyPrefix(env.REDIS_KEY_PREFIX, loadFeatureSet(`${ROOT}models/model.json`));
  cluster = new Cluster(PORTS.filter((p) => p !== victim.port).map((port) => ({ host: '127.0.0.1', port })), { redisOptions: { maxRetriesPerRequest: 2 } });
  const perUser = new Map<string, { events: number; fallbacks: number }>();
  for (let i = 0; i < EVENTS; i++) {
    const u = `u${i % USERS}`;
    const c = perUser.get(u) ?? perUser.set(u, { events: 0, fallbacks: 0 }).get(u)!;
    c.events++;
  }
  for (const p of fallbacks) perUser.get(p.user_id)!.fallbacks++;
  let lostUpdates = 0;
  let usersLosing = 0;
  let appliedThoughFallback = 0;
  const ids = [...perUser.keys()];
  const hashes = await Promise.all(ids.map((u) => cluster!.hmget(keyPrefix + u, 'v', 'c', 'p')));
  for (let k = 0; k < ids.length; k++) {
    const c = perUser.get(ids[k])!;
    const stored = hashes[k].reduce((s, v) => s + Number(v ?? 0), 0);
    assert.ok(stored <= c.events, `${ids[k]}: ${stored} counted of ${c.events} events: never more than its events`);
    const applied = c.events - c.fallbacks;
    if (stored < applied) {
      lostUpdates += applied - stored;
      usersLosing++;
    } else appliedThoughFallback += stored - applied;
  }
  t.diagnostic(
    `features after the failover: ${lostUpdates} acknowledged updates lost (async replication) over ${usersLosing} users; ` +
      `${appliedThoughFallback} updates applied although their event fell back (the call timed out after Redis applied it)`,
  );
});
