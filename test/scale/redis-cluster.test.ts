// Features in a real 3-node Redis Cluster (REDIS_CLUSTER_NODES): every event of a scripted set
// gets one prediction equal to the model on the oracle's features for that event, each user's
// hash holds exactly what its events add up to, and the users' hashes are spread over all three
// masters (one single-key script call per event, routed by slot). A second run over the same
// input with a new consumer group replays every offset: the replay guard leaves the hashes as
// they were.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { Cluster } from 'ioredis';
import { ModelSession } from '../../workers/model-session.js';
import { Audit, endOffsets, summarize, type AuditReport } from '../kit/audit.js';
import { startEngine, type EngineProcess } from '../kit/engine-process.js';
import { byUser, expectedFeatures, expectedFeaturesAt, generateEvents } from '../kit/events.js';
import { modelMismatches } from '../kit/model-oracle.js';
import { produceEvents, type ProducedEvent } from '../kit/produce.js';
import { CLUSTER_NODES, clusterClient, clusterUp, keysPerNode, readHashes } from '../kit/redis-cluster.js';
import { createScenario } from '../kit/scenario.js';
import { assertServicesReachable, createTopic, uniqueName } from '../kit/services.js';

const EVENTS = 6000;
const USERS = 300;
const PARTITIONS = 4;
const META = JSON.parse(readFileSync('models/model.json', 'utf8')) as { model_version: string; cold_start: number[] };

let model: ModelSession;
let cluster: Cluster;
const engines: EngineProcess[] = [];
const readers: Audit[] = [];

before(async () => {
  await assertServicesReachable();
  clusterUp();
  cluster = clusterClient();
  model = await ModelSession.load('models/model.onnx', 'models/model.json');
});

after(async () => {
  await Promise.all(engines.map((e) => e.kill9()));
  await Promise.all(readers.map((r) => r.stop()));
  await model?.release();
  cluster?.disconnect();
});

async function run(env: Record<string, string>, auditOpts: Parameters<typeof Audit.start>[0], ends: Map<number, number>): Promise<{ report: AuditReport; reader: Audit }> {
  const reader = await Audit.start(auditOpts);
  readers.push(reader);
  const engine = await startEngine({ ...env, WORKERS: '1', REDIS_CLUSTER_NODES: CLUSTER_NODES });
  engines.push(engine);
  await engine.waitReady(60_000);
  await reader.waitForCoverage(ends, 60_000);
  await reader.catchUp();
  const exit = await engine.stop('SIGTERM');
  assert.deepEqual(exit, { code: 0, signal: null }, `engine exit (stderr tail: ${engine.stderr().slice(-2000)})`);
  return { report: reader.report(ends), reader };
}

test('Redis Cluster: exact per-user counters spread over 3 nodes, a correct prediction for every event, replays idempotent', { timeout: 150_000 }, async (t) => {
  const sc = await createScenario('cluster', PARTITIONS);
  const events = generateEvents({ count: EVENTS, users: USERS, startMs: Date.now() - EVENTS * 2000, meanStepMs: 2000, seed: 11, userPrefix: 'cu' });
  const produced = await produceEvents(sc.input, events, { partitions: PARTITIONS, batchSize: 1000 });
  const ends = await endOffsets(sc.input);

  const { report: r, reader } = await run(sc.env, sc.auditOptions, ends);
  t.diagnostic(summarize(r));
  assert.equal(r.lost.length, 0, 'every input offset has an output');
  assert.equal(r.duplicates.length, 0);
  assert.equal(r.dlq, 0);
  assert.equal(r.predictions, EVENTS);
  assert.equal(r.outOfOrder.length, 0);

  // Every prediction is the model on the oracle's features of its event (no fallback: the
  // cluster answered every call).
  const users = byUser(produced);
  const expectedAt = expectedFeaturesAt(produced, META.cold_start);
  for (const p of reader.predictions) assert.equal(p.value.fallback, false, 'no fallback prediction');
  const { count: mismatches, first } = await modelMismatches(model, reader.predictions, expectedAt);
  assert.equal(mismatches, 0, `predictions equal the model on the oracle's features (first mismatch: ${first})`);

  // Exact counters in the cluster's hashes, and the hashes on all three masters.
  const checkHashes = async (what: string) => {
    const ids = [...users.keys()];
    const hashes = await readHashes(cluster, ids.map((u) => sc.keyPrefix + u));
    for (const u of ids) {
      const h = hashes.get(sc.keyPrefix + u)!;
      const evs: ProducedEvent[] = users.get(u)!;
      const { final } = expectedFeatures(evs, META.cold_start);
      assert.deepEqual({ v: Number(h.v), c: Number(h.c), p: Number(h.p), t: Number(h.t), g: Number(h.g) }, final, `${what}: features of ${u}`);
    }
    const perNode = await keysPerNode(cluster, sc.keyPrefix);
    const counts = [...perNode].map(([node, keys]) => `${node}=${keys.length}`);
    t.diagnostic(`${what}: user hashes per master: ${counts.join(' ')}`);
    assert.equal(perNode.size, 3, 'three masters');
    for (const [node, keys] of perNode) assert.ok(keys.length > USERS / 10, `${node} holds a share of the users (${keys.length})`);
    assert.equal([...perNode.values()].reduce((a, k) => a + k.length, 0), USERS);
  };
  await checkHashes('first run');

  // Replay everything with a new group and output topic: same hashes (the guard), and the
  // replayed predictions come from the stored features, never a fallback.
  const output2 = uniqueName('cluster-out2');
  await createTopic(output2, PARTITIONS);
  const { report: r2 } = await run({ ...sc.env, KAFKA_GROUP_ID: uniqueName('cluster-replay'), OUTPUT_TOPIC: output2 }, { ...sc.auditOptions, outputTopic: output2 }, ends);
  t.diagnostic(`replay: ${summarize(r2)}`);
  assert.equal(r2.lost.length, 0);
  assert.equal(r2.duplicates.length, 0);
  await checkHashes('after a full replay');
});
