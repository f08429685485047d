// Scale-out on Kafka's consumer group: 3 engine processes (WORKERS=1 each) share a 12-partition
// topic fed at 2,000 events/s; during a 60,000-event run a 4th process joins and then one of the
// first three is killed with SIGKILL. The audit of the output (value.source of each record) must account
// for every input offset, keep each user's order within its input partition, and duplicate only
// what at-least-once allows; in exactly-once mode (read_committed) nothing is duplicated. The
// users' feature counters in the Redis Cluster are exact in both modes (the replay guard).
// The rebalance pauses around the join and the leave are measured and printed.
import '../../src/kafka/kafkajs-read-committed.js';
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { summarize } from '../kit/audit.js';
import { runs } from '../kit/guarantees.js';
import { assertExactFeatures, assignments, endOffsets, longestGap, longestHandoverGap, longestPartitionGap, outputTimes, sleep, startMember, scaleHarness, waitBalanced, waitSent } from './scale-run.js';

const PARTITIONS = 12;
const RATE = 2000;
const EVENTS = 60_000;
const USERS = 3000;
/** Per-process bound on fetched-but-unfinished events (engine MAX_IN_FLIGHT), set low so the duplicate bound below means something. */
const MAX_IN_FLIGHT = 1000;
const MAX_IN_FLIGHT_PER_PARTITION = 250;
const COMMIT_INTERVAL_MS = 100;

const { members, cluster, startLoaded } = scaleHarness();

async function joinAndKill(t: TestContext, guarantee: 'at-least-once' | 'exactly-once'): Promise<void> {
  const eos = guarantee === 'exactly-once';
  const { sc, env, group, reader, input, t0 } = await startLoaded({
    prefix: eos ? 'scale-eos' : 'scale-alo',
    partitions: PARTITIONS,
    env: { GUARANTEE: guarantee, MAX_IN_FLIGHT: String(MAX_IN_FLIGHT), MAX_IN_FLIGHT_PER_PARTITION: String(MAX_IN_FLIGHT_PER_PARTITION), COMMIT_INTERVAL_MS: String(COMMIT_INTERVAL_MS) },
    rate: RATE,
    users: USERS,
    seed: eos ? 2 : 1,
  });

  // Join: a 4th process, started now; it joins the group once it has loaded (several seconds on
  // this machine), mid-run.
  const joinAt = Date.now();
  const joiner = await startMember(env);
  members.push(joiner);
  group.push(joiner);
  await joiner.engine.waitReady(90_000);
  await waitBalanced(sc.groupId, group, PARTITIONS, 60_000);
  const joinDone = Math.max(...group.map((m) => assignments(m).at(-1)!.at));

  // Leave: SIGKILL one of the first three, no earlier than 12 s and 3 s after the join settled.
  await sleep(Math.max(0, t0 + 12_000 - Date.now(), joinDone + 3000 - Date.now()));
  const victim = group[0];
  const victimPartitions = assignments(victim).at(-1)!.partitions;
  const killAt = Date.now();
  await victim.engine.kill9();
  const survivors = group.slice(1);
  await waitBalanced(sc.groupId, survivors, PARTITIONS, 90_000);
  const leaveDone = Math.max(...survivors.map((m) => assignments(m).at(-1)!.at));

  await waitSent(input.rp, EVENTS, 90_000);
  await input.stop();
  const sent = input.rp.sent;
  const ends = await endOffsets(sc.input);
  assert.equal([...ends.values()].reduce((a, b) => a + b, 0), sent.length, 'every sent event is in the input topic');
  await reader.waitForCoverage(ends, 120_000);
  const drainedAt = Date.now();

  for (const m of survivors) {
    const exit = await m.engine.stop('SIGTERM');
    assert.deepEqual(exit, { code: 0, signal: null }, `${m.name} exits 0 on SIGTERM (stderr tail: ${m.engine.stderr().slice(-1500)})`);
  }
  await reader.catchUp();
  const r = reader.report(ends);
  t.diagnostic(`${guarantee}: ${summarize(r)}`);
  t.diagnostic(`${guarantee}: ${sent.length} events in ${((drainedAt - t0) / 1000).toFixed(1)} s; 4th process started at +${((joinAt - t0) / 1000).toFixed(1)} s, joined (group rebalanced over 4) at +${((joinDone - t0) / 1000).toFixed(1)} s; kill -9 of ${victim.name} (partitions ${victimPartitions}) at +${((killAt - t0) / 1000).toFixed(1)} s (rebalanced +${((leaveDone - t0) / 1000).toFixed(1)} s)`);

  // Every input offset accounted for; nothing unexpected; all events valid and on time.
  assert.equal(r.lost.length, 0, `lost input offsets: ${JSON.stringify(r.lost.slice(0, 10))}`);
  assert.equal(r.unexpected, 0);
  assert.equal(r.dlq, 0, 'no DLQ records (all events valid and on time)');
  const fallbacks = reader.predictions.filter((p) => p.value.fallback).length;
  assert.equal(fallbacks, 0, 'no fallback predictions (the Redis Cluster answered every call)');

  // Order: per user and input partition, outputs in input order (the first copy of each offset
  // for at-least-once; every record for exactly-once).
  const order = r.outOfOrderFirst;
  assert.equal(order.length, 0, `first copies in per-user input order (first violation: ${JSON.stringify(order[0])})`);

  // Duplicates.
  const extra = r.predictions + r.dlq - r.inputs;
  const onVictim = r.duplicates.filter((d) => victimPartitions.includes(d.partition)).length;
  const maxCopies = Math.max(1, ...r.duplicates.map((d) => d.predictions + d.dlq));
  t.diagnostic(`${guarantee}: duplicated offsets ${r.duplicates.length} (extra copies ${extra}, at most ${maxCopies} copies of one offset; ${onVictim} on the killed process's partitions)${r.duplicates.length ? ': ' + dupRanges(r.duplicates) : ''}`);
  if (r.duplicates.length && process.env.SCALE_LOG_DIR) {
    const dupSet = new Set(r.duplicates.map((d) => `${d.partition}:${d.offset}`));
    const copies = reader.predictions.filter((p) => dupSet.has(`${p.source.partition}:${p.source.offset}`)).map((p) => ({ src: `${p.source.partition}:${p.source.offset}`, out: `${p.partition}:${p.offset}`, at: p.value.processing_time }));
    mkdirSync(process.env.SCALE_LOG_DIR, { recursive: true });
    writeFileSync(`${process.env.SCALE_LOG_DIR}/dups-${guarantee}.json`, JSON.stringify({ t0, joinAt, joinDone, killAt, leaveDone, copies }, null, 0));
  }
  if (eos) {
    assert.equal(r.duplicates.length, 0, 'exactly-once: no input offset has two committed outputs');
    assert.equal(r.outOfOrder.length, 0, 'exactly-once: every committed output in per-user input order');
  } else {
    // At-least-once bound. An output is redone only for an offset its process had taken but not
    // committed when it lost the partition. Losing owners here: the 3 first processes at the
    // join rebalance (the round-robin assignor moves most partitions), the killed process, and
    // the 3 survivors at the rebalance after its session expired: 7. What one owner has taken
    // but not committed is its in-flight events (≤ MAX_IN_FLIGHT, plus at most one fetch past
    // the bound, which the engine sizes from MAX_IN_FLIGHT_PER_PARTITION) and the events it
    // finished since its last commit (one COMMIT_INTERVAL_MS, longer while a rebalance makes
    // commits fail; a process keeps finishing only what it already fetched, ≤ the same bound).
    // Bound: 7 × 2 × MAX_IN_FLIGHT.
    const bound = 7 * 2 * MAX_IN_FLIGHT;
    assert.ok(extra <= bound, `at-least-once: ${extra} extra copies exceed the bound ${bound}`);
    assert.ok(maxCopies <= 4, `an offset output at most once per owner it had (got ${maxCopies})`);
  }

  // Pauses: the longest time with no output at all (every process), and the longest time any
  // single input partition went without output, around the join and around the leave.
  const times = outputTimes(reader.predictions);
  const all = Array.from({ length: PARTITIONS }, (_, i) => i);
  // Join: gaps lying between the 4th process's start and the kill. Leave: the group-wide gap from
  // the kill until a few seconds after the rebalance, and for each of the killed process's
  // partitions the time from its last output before the kill to the new owner's first.
  const joinGap = longestGap(times.all, joinAt, killAt);
  const joinPart = longestPartitionGap(times.byPartition, all, joinAt, killAt);
  const leaveGap = longestGap(times.all, killAt - 1000, leaveDone + 3000);
  const leavePart = longestHandoverGap(times.byPartition, victimPartitions, killAt);
  t.diagnostic(
    `${guarantee}: rebalance pause — join: no output at all for ${joinGap.ms} ms, longest partition gap ${joinPart.ms} ms (p${joinPart.partition}); ` +
      `leave (kill -9): no output at all for ${leaveGap.ms} ms, the killed process's partitions waited up to ${leavePart.ms} ms (p${leavePart.partition}: session timeout + rebalance)`,
  );

  // Feature counters in the Redis Cluster: exactly what each user's events add up to.
  await assertExactFeatures(cluster(), sent, sc.keyPrefix);
}

/** "p5 4318-4400 (83)" per partition with duplicates. */
function dupRanges(dups: { partition: number; offset: number }[]): string {
  const by = new Map<number, number[]>();
  for (const d of dups) (by.get(d.partition) ?? by.set(d.partition, []).get(d.partition)!).push(d.offset);
  return [...by].sort((a, b) => a[0] - b[0]).map(([p, o]) => `p${p} ${Math.min(...o)}-${Math.max(...o)} (${o.length})`).join(', ');
}

if (runs('at-least-once'))
  test('consumer group, at-least-once: 3 processes, one joins, one is killed -9 during 60,000 events → 0 lost, order kept, duplicates bounded, exact features', { timeout: 200_000 }, async (t) => {
    await joinAndKill(t, 'at-least-once');
  });

if (runs('exactly-once'))
  test('consumer group, exactly-once: the same join and kill -9 → 0 lost, 0 duplicates (read_committed), exact features', { timeout: 200_000 }, async (t) => {
    await joinAndKill(t, 'exactly-once');
  });
