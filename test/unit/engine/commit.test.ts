// Commits only below the first unfinished offset, in-process: one output's acknowledgement is
// held back, so its input (and everything after it in send order) stays unfinished. The committed
// offset stops exactly at the first input without an acknowledged output; released, it advances
// to the end.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { generateEvents } from '../../kit/events.js';
import { startInProcessEngine, type InProcessEngine } from '../../kit/in-process-engine.js';
import { sourceOf } from '../../kit/recording-sink.js';
import { until } from '../../kit/wait.js';

const EVENTS = 600;
const HELD = 300;
let e: InProcessEngine | null = null;
after(() => e?.stop());

test('a held acknowledgement stops the commit below its input; releasing it lets the commit advance', { timeout: 60_000 }, async () => {
  e = await startInProcessEngine({ env: { WORKERS: '2' } });
  const { source, sink } = e;
  const events = generateEvents({ count: EVENTS, users: 30, startMs: Date.now() - 3_600_000, meanStepMs: 50, seed: 3 });
  const values = events.map((ev) => JSON.stringify(ev));
  // A first part done and committed, so the commit has somewhere to stop above 0.
  const FIRST = 250;
  source.push(0, values.slice(0, FIRST), (i) => events[i].user_id);
  await until(() => source.committed(0) === FIRST, 20_000, `a commit of the first ${FIRST}`);
  sink.holdWhen = (r) => sourceOf(r).offset === HELD;
  source.push(0, values.slice(FIRST), (i) => events[FIRST + i].user_id);

  await until(() => sink.held.length === 1, 20_000, 'the send with input offset 300 to be held');
  const heldOffsets = sink.held[0].records.map((r) => sourceOf(r).offset);
  assert.ok(heldOffsets.includes(HELD));
  // Nothing is acknowledged after the held send (one send at a time, in order), so the first
  // unfinished input is fixed from here on: the lowest input offset without an acked output.
  const firstUnfinished = (): number => {
    const done = new Set(sink.acked.map((r) => sourceOf(r).offset));
    let o = 0;
    while (done.has(o)) o++;
    return o;
  };
  const stopAt = firstUnfinished();
  assert.ok(stopAt >= FIRST && stopAt <= HELD, `first unfinished ${stopAt} is at or below the held input`);
  await until(() => source.committed(0) === stopAt, 10_000, `a commit of offset ${stopAt}`);
  // More commits while the ack is held (besides the timer's): none goes beyond.
  for (let i = 0; i < 3; i++) await e.engine.commit();
  for (const batch of source.commits) for (const c of batch) assert.ok(c.offset <= stopAt, `committed ${c.offset} while input ${stopAt} was unfinished`);
  assert.equal(firstUnfinished(), stopAt, 'still unfinished while held');
  assert.ok(stopAt < EVENTS);

  sink.release();
  await until(() => source.committed(0) === EVENTS, 20_000, `the commit to reach ${EVENTS}`);
  const offsets = sink.acked.map((r) => sourceOf(r).offset).sort((a, b) => a - b);
  assert.deepEqual(offsets, Array.from({ length: EVENTS }, (_, i) => i), 'every input once');
});
