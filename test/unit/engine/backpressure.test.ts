// Backpressure, in-process: with acknowledgements held back, a partition is paused once its
// in-flight events reach MAX_IN_FLIGHT_PER_PARTITION and nothing more is fetched; once acked
// outputs drain it to half the bound it is resumed, and every event still gets its output.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { generateEvents } from '../../kit/events.js';
import { startInProcessEngine, type InProcessEngine } from '../../kit/in-process-engine.js';
import { sourceOf } from '../../kit/recording-sink.js';
import { ScriptedSource } from '../../kit/scripted-source.js';
import { until } from '../../kit/wait.js';

const EVENTS = 300;
const BOUND = 20;
const FETCH = 10;
let e: InProcessEngine | null = null;
after(() => e?.stop());

test('pause at MAX_IN_FLIGHT_PER_PARTITION, resume after the drain, nothing lost', { timeout: 60_000 }, async () => {
  e = await startInProcessEngine({ env: { WORKERS: '1', MAX_IN_FLIGHT_PER_PARTITION: String(BOUND), MAX_IN_FLIGHT: '1000' }, source: new ScriptedSource('in', [0], FETCH) });
  const { source, sink } = e;
  sink.holdWhen = () => true; // the first send's ack waits until released
  const startCalls = source.calls.length; // the assignment's resume
  const events = generateEvents({ count: EVENTS, users: 10, startMs: Date.now() - 3_600_000, meanStepMs: 50, seed: 5 });
  source.push(0, events.map((ev) => JSON.stringify(ev)), (i) => events[i].user_id);

  await until(() => source.isPaused(0), 20_000, 'partition 0 to be paused');
  const pause = source.calls[startCalls];
  assert.equal(pause.kind, 'pause');
  assert.deepEqual(pause.partitions, [{ topic: 'in', partition: 0 }]);
  // Paused by the fetch that reached the bound (fetches are FETCH records each).
  assert.equal(pause.delivered, BOUND, 'paused when in-flight events reached the bound');
  assert.equal(source.calls.filter((c) => c.kind === 'resume').length, 1, 'no resume while acks are held');
  assert.ok(source.pending(0) > 0, 'records are left to fetch');
  await until(() => sink.held.length === 1, 10_000, 'a held send');
  // Commits while held cannot resume it: nothing is done.
  await e.engine.commit();
  assert.ok(source.isPaused(0), 'still paused while nothing is acknowledged');

  sink.release();
  await until(() => source.calls.slice(startCalls).some((c) => c.kind === 'resume'), 10_000, 'a resume after the drain');
  const resume = source.calls.slice(startCalls).find((c) => c.kind === 'resume')!;
  assert.deepEqual(resume.partitions, [{ topic: 'in', partition: 0 }]);
  await until(() => source.committed(0) === EVENTS, 30_000, `all ${EVENTS} committed`);
  // Every pause is followed by a resume (the last one too), and in-flight never got past the bound by more than one fetch.
  const kinds = source.calls.slice(startCalls).map((c) => c.kind);
  for (let i = 0; i < kinds.length; i++) assert.equal(kinds[i], i % 2 === 0 ? 'pause' : 'resume', `calls alternate: ${kinds.join(',')}`);
  assert.equal(kinds.length % 2, 0, 'not left paused');
  assert.ok((await e.metric('scorestream_in_flight_events_max')) <= BOUND + FETCH - 1);
  assert.deepEqual(sink.acked.map((r) => sourceOf(r).offset).sort((a, b) => a - b), Array.from({ length: EVENTS }, (_, i) => i));
});
