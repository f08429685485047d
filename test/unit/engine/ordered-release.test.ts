// Ordered release across lanes, in-process: with two lanes, one of them restarting, lanes
// finish out of order, yet every user's outputs come out in input order, each input exactly once.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { generateEvents } from '../../kit/events.js';
import { startInProcessEngine, type InProcessEngine } from '../../kit/in-process-engine.js';
import { sourceOf } from '../../kit/recording-sink.js';
import { ScriptedSource } from '../../kit/scripted-source.js';
import { until } from '../../kit/wait.js';
import { laneOf } from '../../../src/lanes/lane-router.js';

const EVENTS = 2000;
let e: InProcessEngine | null = null;
after(() => e?.stop());

test('two lanes finishing out of order: per-user output order equals input order, every input once', { timeout: 60_000 }, async () => {
  e = await startInProcessEngine({ env: { WORKERS: '2', OUTPUT_TOPIC: 'out' }, source: new ScriptedSource('in', [0, 1]) });
  const events = generateEvents({ count: EVENTS, users: 40, startMs: Date.now() - 3_600_000, meanStepMs: 50, seed: 7 });
  // Lane 0's worker crashes before any event arrives: its events wait for the replacement while lane 1 goes on.
  e.engine.crashWorker(0);
  const inputs = new Map<string, { user: string; offset: number }[]>();
  // Users split over the partitions by number, not by the lane hash: each partition feeds both lanes.
  for (const p of [0, 1]) {
    const mine = events.filter((ev) => Number(ev.user_id.slice(1)) % 2 === p);
    const recs = e.source.push(p, mine.map((ev) => JSON.stringify(ev)), (i) => mine[i].user_id);
    recs.forEach((r, i) => (inputs.get(mine[i].user_id) ?? inputs.set(mine[i].user_id, []).get(mine[i].user_id)!).push({ user: mine[i].user_id, offset: r.offset }));
  }
  await until(() => e!.sink.acked.length >= EVENTS, 45_000, `${EVENTS} predictions`);
  const outs = e.sink.acked.map((r) => ({ r, src: sourceOf(r), user: JSON.parse(r.value.toString()).user_id as string }));
  assert.equal(outs.length, EVENTS);
  assert.ok(outs.every((o) => o.r.topic === 'out'), 'every output is a prediction');
  const seen = new Set(outs.map((o) => `${o.src.partition}:${o.src.offset}`));
  assert.equal(seen.size, EVENTS, 'every input offset has exactly one output');
  assert.ok((await e.metric('scorestream_worker_restarts_total')) >= 1, 'lane 0 was restarted');

  // The precondition: lanes did finish out of order (a later input of the same partition, on
  // the other lane, was output before an earlier one).
  let crossLane = 0;
  const last = new Map<number, number>();
  for (const o of outs) {
    const prev = last.get(o.src.partition) ?? -1;
    if (o.src.offset < prev) crossLane++;
    last.set(o.src.partition, Math.max(prev, o.src.offset));
  }
  assert.ok(crossLane > 0, 'outputs of different lanes interleaved out of input order');

  // The property: per user, outputs in input order.
  for (const [user, want] of inputs) {
    const got = outs.filter((o) => o.user === user).map((o) => o.src.offset);
    assert.deepEqual(got, want.map((w) => w.offset), `user ${user} (lane ${laneOf(user, 2)})`);
  }
  await until(() => e!.source.committed(0) + e!.source.committed(1) === EVENTS, 10_000, 'commits of every input offset');
});
