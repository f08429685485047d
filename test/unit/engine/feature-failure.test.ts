// A failing feature store, in-process: after FEATURE_RETRIES every event still gets an output,
// the fallback prediction of model.json (fallback=true, metric reason feature_store), in per-user
// order; with ON_FEATURE_ERROR=dlq each event becomes a processing_errors record instead.
import { afterEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { generateEvents } from '../../kit/events.js';
import { FailingFeatureStore, MODEL_META, startInProcessEngine, type InProcessEngine } from '../../kit/in-process-engine.js';
import { sourceOf } from '../../kit/recording-sink.js';
import { until } from '../../kit/wait.js';

const EVENTS = 200;
let e: InProcessEngine | null = null;
afterEach(() => e?.stop());

const input = () => generateEvents({ count: EVENTS, users: 20, startMs: Date.now() - 3_600_000, meanStepMs: 50, seed: 11 });

test('store fails every call: fallback predictions with model.json\'s fallback_prediction, reason feature_store', { timeout: 60_000 }, async () => {
  const store = new FailingFeatureStore();
  e = await startInProcessEngine({ env: { WORKERS: '2', FEATURE_RETRIES: '2', OUTPUT_TOPIC: 'out' }, featureStore: store });
  const events = input();
  e.source.push(0, events.map((ev) => JSON.stringify(ev)), (i) => events[i].user_id);
  await until(() => e!.source.committed(0) === EVENTS, 30_000, `all ${EVENTS} committed`);

  const preds = e.sink.values<{ user_id: string; prediction: number; fallback: boolean; model_version: string; source: { offset: number } }>('out');
  assert.equal(e.sink.acked.length, EVENTS, 'one output per event, all predictions');
  assert.equal(preds.length, EVENTS);
  for (const p of preds) {
    assert.equal(p.fallback, true);
    assert.equal(p.prediction, MODEL_META.fallback_prediction);
    assert.equal(p.model_version, MODEL_META.model_version);
  }
  assert.equal(await e.metric('scorestream_fallbacks_total', { reason: 'feature_store' }), EVENTS);
  assert.equal(await e.metric('scorestream_fallbacks_total', { reason: 'model' }), 0);
  // Each feature call was tried 1 + FEATURE_RETRIES times.
  assert.ok(store.calls > 0 && store.calls % 3 === 0, `${store.calls} calls`);
  assert.equal(await e.metric('scorestream_feature_store_errors_total'), store.calls);
  // Per-user order holds through the fallback path.
  const byUser = new Map<string, number[]>();
  for (const p of preds) (byUser.get(p.user_id) ?? byUser.set(p.user_id, []).get(p.user_id)!).push(p.source.offset);
  for (const [user, offs] of byUser) assert.deepEqual(offs, [...offs].sort((a, b) => a - b), `user ${user} in input order`);
});

test('ON_FEATURE_ERROR=dlq: each event becomes a processing_errors record with its original bytes and attempts', { timeout: 60_000 }, async () => {
  const store = new FailingFeatureStore();
  e = await startInProcessEngine({ env: { WORKERS: '1', FEATURE_RETRIES: '1', ON_FEATURE_ERROR: 'dlq', OUTPUT_TOPIC: 'out', DLQ_PROCESSING_TOPIC: 'dlq-p' }, featureStore: store });
  const events = input();
  const values = events.map((ev) => JSON.stringify(ev));
  e.source.push(0, values, (i) => events[i].user_id);
  await until(() => e!.source.committed(0) === EVENTS, 30_000, `all ${EVENTS} committed`);

  assert.equal(e.sink.values('out').length, 0, 'no predictions');
  const dlq = e.sink.values<{ original_event: string; original_encoding: string; error_type: string; message: string; attempts: number; stack_trace: string; source: { topic: string; partition: number; offset: number } }>('dlq-p');
  assert.equal(dlq.length, EVENTS);
  assert.deepEqual(dlq.map((d) => d.source.offset).sort((a, b) => a - b), Array.from({ length: EVENTS }, (_, i) => i), 'one record per input offset');
  for (const d of dlq) {
    assert.equal(d.error_type, 'PROCESSING_ERROR');
    assert.equal(d.original_event, values[d.source.offset]);
    assert.equal(d.original_encoding, 'utf8');
    assert.equal(d.attempts, 2, '1 + FEATURE_RETRIES attempts');
    assert.match(d.message, /scripted feature store failure/);
    assert.equal(typeof d.stack_trace, 'string');
    assert.deepEqual(d.source.topic, 'in');
  }
  for (const r of e.sink.acked) assert.equal(r.headers?.['x-error-type'], 'PROCESSING_ERROR');
  assert.equal(await e.metric('scorestream_dlq_records_total', { topic: 'dlq-p' }), EVENTS);
  assert.equal(await e.metric('scorestream_fallbacks_total'), 0);
  assert.equal(sourceOf(e.sink.acked[0]).partition, 0);
});
