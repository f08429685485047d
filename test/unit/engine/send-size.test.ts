// Byte-bounded sends: sendSize cuts a run of records into sends that stay under
// MAX_BYTES_PER_SEND before their last record (so a record crossing the bound ends its send, and
// an oversized record at the start of a send goes alone), and the engine's at-least-once output sends that way: a backlog
// of outputs queued behind a held send goes out in several bounded sends, in order.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_BYTES_PER_SEND, sendSize, type OutputRecord } from '../../../src/output/sink.js';
import { generateEvents } from '../../kit/events.js';
import { startInProcessEngine, type InProcessEngine } from '../../kit/in-process-engine.js';
import { sourceOf } from '../../kit/recording-sink.js';
import { until } from '../../kit/wait.js';

const len = (n: number) => n;

test('sendSize: fills up to the byte bound, at least one item, an oversized item alone', { timeout: 10_000 }, () => {
  const small = new Array(10_000).fill(1000);
  const k = sendSize(small, 0, len);
  // Bytes counted per item: value + 64 (key, headers, framing).
  assert.ok((k - 1) * 1064 < MAX_BYTES_PER_SEND && k * 1064 >= MAX_BYTES_PER_SEND, `k=${k}`);
  assert.equal(sendSize(small, small.length - 3, len), 3, 'the tail');
  const big = [10, MAX_BYTES_PER_SEND * 2, 10];
  assert.equal(sendSize(big, 0, len), 2, 'the item that crosses the bound is the last of its send');
  assert.equal(sendSize(big, 1, len), 1, 'an oversized item goes alone');
  assert.equal(sendSize([5, 5, 5], 0, len, 100), 2);
  assert.equal(sendSize([], 0, len), 0);
});

let e: InProcessEngine | null = null;
after(() => e?.stop());

/** Value bytes (+64 each) of a send before its last record: what sendSize keeps under the bound. */
const beforeLast = (send: OutputRecord[]) => send.slice(0, -1).reduce((a, r) => a + Buffer.byteLength(r.value) + 64, 0);

test('the engine sends a backlog in byte-bounded sends; oversized dead letters end a send or go alone', { timeout: 60_000 }, async () => {
  e = await startInProcessEngine({ env: { WORKERS: '1', MAX_IN_FLIGHT_PER_PARTITION: '20000', MAX_IN_FLIGHT: '20000', OUTPUT_TOPIC: 'out', DLQ_VALIDATION_TOPIC: 'dlq-v' } });
  const { source, sink } = e;
  sink.holdWhen = () => true; // the first send waits: what follows queues up behind it
  const events = generateEvents({ count: 3000, users: 50, startMs: Date.now() - 3_600_000, meanStepMs: 50, seed: 13 });
  const values: (string | Buffer)[] = events.map((ev) => JSON.stringify(ev));
  // Two inputs too big for any limit, back to back: their dead letters are each bigger than a send.
  const OVERSIZED = 1500;
  values.splice(OVERSIZED, 0, 'x'.repeat(MAX_BYTES_PER_SEND + 1000), 'y'.repeat(MAX_BYTES_PER_SEND + 1000));
  source.push(0, values);
  await until(() => sink.held.length === 1, 20_000, 'the first send held');
  await until(() => e!.engine.stats().predictions + e!.engine.stats().deadLetters === values.length, 30_000, 'every output emitted');
  sink.release();
  await until(() => source.committed(0) === values.length, 30_000, 'all committed');

  const sends = sink.sends;
  assert.ok(sends.length >= 4, `${sends.length} sends for ~1 MB of outputs`);
  for (const s of sends) assert.ok(s.length === 1 || beforeLast(s) < MAX_BYTES_PER_SEND, `a send of ${s.length} records with ${beforeLast(s)} bytes before its last`);
  const withDlq = sends.filter((s) => s.some((r) => r.topic === 'dlq-v')).filter((s, i, all) => all.indexOf(s) === i);
  const first = sends.find((s) => s.some((r) => r.topic === 'dlq-v' && sourceOf(r).offset === OVERSIZED))!;
  const second = sends.find((s) => s.some((r) => r.topic === 'dlq-v' && sourceOf(r).offset === OVERSIZED + 1))!;
  assert.ok(first && second && withDlq.length >= 2, 'both oversized records were sent, in different sends');
  assert.equal(sourceOf(first[first.length - 1]).offset, OVERSIZED, 'the first oversized record ends its send');
  assert.equal(second.length, 1, 'the next one, at the start of a send, goes alone');
  assert.ok(Buffer.byteLength(second[0].value) > MAX_BYTES_PER_SEND);
  // Everything once, the outputs of the backlog in emit order across the sends.
  assert.deepEqual(sink.acked.map((r) => sourceOf(r).offset).sort((a, b) => a - b), Array.from({ length: values.length }, (_, i) => i));
});
