// A rolling restart under load: 3 engine processes in one group on a 12-partition topic fed at
// 2,000 events/s; each is replaced in turn (SIGTERM, start its replacement, wait until the
// replacement is ready and the group is balanced again). Every input offset is accounted for,
// each user's outputs stay in input order, the stopped processes exit 0, and the features in the
// Redis Cluster are exact. The pause each graceful leave causes is measured and printed.
import '../../src/kafka/kafkajs-read-committed.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { summarize } from '../kit/audit.js';
import { assertExactFeatures, assignments, endOffsets, longestGap, longestPartitionGap, outputTimes, sleep, startMember, scaleHarness, waitBalanced, type Member } from './scale-run.js';

const PARTITIONS = 12;
const RATE = 2000;
const USERS = 3000;
const MAX_IN_FLIGHT = 1000;

const { members, cluster, startLoaded } = scaleHarness();

test('rolling restart of 3 processes (SIGTERM, replacement, ready) under 2,000 events/s → 0 lost, order kept, exact features', { timeout: 240_000 }, async (t) => {
  const loaded = await startLoaded({ prefix: 'scale-roll', partitions: PARTITIONS, env: { MAX_IN_FLIGHT: String(MAX_IN_FLIGHT), MAX_IN_FLIGHT_PER_PARTITION: '250' }, rate: RATE, users: USERS, seed: 3 });
  const { sc, env, reader, input, t0 } = loaded;
  let group: Member[] = loaded.group;
  await sleep(3000);

  const restarts: { name: string; stopAt: number; exitedAt: number; balancedAt: number }[] = [];
  for (const old of [...group]) {
    const stopAt = Date.now();
    // The replacement starts while the old process drains: one process fewer for as short as possible.
    const [exit, replacement] = await Promise.all([old.engine.stop('SIGTERM'), startMember(env)]);
    const exitedAt = Date.now();
    assert.deepEqual(exit, { code: 0, signal: null }, `${old.name} exits 0 on SIGTERM (stderr tail: ${old.engine.stderr().slice(-1500)})`);
    members.push(replacement);
    group = group.filter((m) => m !== old).concat(replacement);
    await replacement.engine.waitReady(90_000);
    await waitBalanced(sc.groupId, group, PARTITIONS, 60_000);
    const balancedAt = Math.max(...group.map((m) => assignments(m).at(-1)!.at));
    restarts.push({ name: old.name, stopAt, exitedAt, balancedAt });
    await sleep(2000);
  }

  await sleep(2000);
  await input.stop();
  const sent = input.rp.sent;
  const ends = await endOffsets(sc.input);
  assert.equal([...ends.values()].reduce((a, b) => a + b, 0), sent.length);
  await reader.waitForCoverage(ends, 120_000);
  for (const m of group) assert.deepEqual(await m.engine.stop('SIGTERM'), { code: 0, signal: null }, `${m.name} exits 0`);
  await reader.catchUp();
  const r = reader.report(ends);
  t.diagnostic(summarize(r));

  assert.equal(r.lost.length, 0, `lost input offsets: ${JSON.stringify(r.lost.slice(0, 10))}`);
  assert.equal(r.unexpected, 0);
  assert.equal(r.dlq, 0);
  assert.equal(reader.predictions.filter((p) => p.value.fallback).length, 0, 'no fallback predictions');
  const order = r.outOfOrderFirst;
  assert.equal(order.length, 0, `first copies in per-user input order (first violation: ${JSON.stringify(order[0])})`);
  // A graceful leave drains and commits before leaving, so duplicates come only from the other
  // members' partitions moved by the two rebalances each restart causes (see consumer-group's
  // bound): 3 restarts × 2 rebalances × 3 losing owners × 2 × MAX_IN_FLIGHT.
  const extra = r.predictions + r.dlq - r.inputs;
  t.diagnostic(`${sent.length} events over ${((Date.now() - t0) / 1000).toFixed(1)} s; duplicated offsets ${r.duplicates.length} (extra copies ${extra})`);
  assert.ok(extra <= 3 * 2 * 3 * 2 * MAX_IN_FLIGHT, `duplicates within the at-least-once bound (${extra})`);

  const times = outputTimes(reader.predictions);
  const all = Array.from({ length: PARTITIONS }, (_, i) => i);
  restarts.forEach((x, i) => {
    // The restart's own window: from its SIGTERM until the next SIGTERM (the last: 5 s after the group settled).
    const end = restarts[i + 1]?.stopAt ?? x.balancedAt + 5000;
    const g = longestGap(times.all, x.stopAt, end);
    const p = longestPartitionGap(times.byPartition, all, x.stopAt, end);
    t.diagnostic(
      `restart of ${x.name} at +${((x.stopAt - t0) / 1000).toFixed(1)} s: drained and exited in ${x.exitedAt - x.stopAt} ms, group balanced again after ${x.balancedAt - x.stopAt} ms; ` +
        `pause: no output at all for ${g.ms} ms, longest partition gap ${p.ms} ms (p${p.partition})`,
    );
  });

  await assertExactFeatures(cluster(), sent, sc.keyPrefix);
});
