// /metrics, /healthz and /readyz scraped while the engine runs against the real Kafka and Redis.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { freePort } from '../kit/engine-process.js';
import { allOffsets, eventValue, produce, until, withOpsRun } from './kafka-io.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const MODEL_VERSION = JSON.parse(readFileSync(`${ROOT}/models/model.json`, 'utf8')).model_version as string;

/** name → type, from the # TYPE lines. */
function families(text: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of text.split('\n')) {
    const t = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (t) m.set(t[1], t[2]);
  }
  return m;
}

const EXPECTED: [string, string][] = [
  ['scorestream_events_in_total', 'counter'],
  ['scorestream_predictions_total', 'counter'],
  ['scorestream_fallbacks_total', 'counter'],
  ['scorestream_dlq_records_total', 'counter'],
  ['scorestream_end_to_end_seconds', 'histogram'],
  ['scorestream_inference_seconds', 'histogram'],
  ['scorestream_batch_rows', 'histogram'],
  ['scorestream_in_flight_events', 'gauge'],
  ['scorestream_paused_partitions', 'gauge'],
  ['scorestream_consumer_lag', 'gauge'],
  ['scorestream_worker_restarts_total', 'counter'],
  ['scorestream_model_info', 'gauge'],
];

test('a real-Kafka run exports the documented series with values that match what went through', { timeout: 120_000 }, async () => {
  await withOpsRun('ops-metrics', async ({ run, producer, out, start }) => {
    const e = await start(run.env);
    await e.waitReady();
    const base = Date.now() - 60_000;
    const good = Array.from({ length: 200 }, (_, i) => ({ key: `u${i % 25}`, value: eventValue({ user: `u${i % 25}`, product: `metrics-marker-${i}`, ts: base + i }) }));
    const bad = [
      { key: 'x1', value: 'not json' },
      { key: 'x2', value: JSON.stringify({ user_id: 'x2', product_id: 'p', category: 'c', event_type: 'teleport', timestamp_ms: base }) },
      { key: 'x3', value: '{}' },
    ];
    // One user's partition sees an event, then one two hours older: late.
    const late = [
      { key: 'late-user', value: eventValue({ user: 'late-user', product: 'metrics-marker-late-1', ts: base }) },
      { key: 'late-user', value: eventValue({ user: 'late-user', product: 'metrics-marker-late-2', ts: base - 2 * 3600_000 }) },
    ];
    await produce(producer, run.input, [...good, ...bad, ...late]);
    await out.waitFor(201, 60_000);
    const total = (await allOffsets(run.input)).length;
    assert.equal(total, 205);
    // Counters are bumped before outputs are acknowledged; lag and in-flight settle at the next commit.
    await until(async () => (await e.metric('scorestream_in_flight_events')) === 0 && (await e.metric('scorestream_consumer_lag')) === 0, 30_000, 'in-flight and lag to drain');

    const text = await e.metrics();
    const fam = families(text);
    for (const [name, type] of EXPECTED) assert.equal(fam.get(name), type, `${name} missing or not a ${type}`);
    // Prometheus conventions: counters end in _total, time histograms in _seconds.
    for (const [name, type] of fam) {
      if (!name.startsWith('scorestream_') || name.startsWith('scorestream_process_') || name.startsWith('scorestream_nodejs_')) continue;
      if (type === 'counter') assert.match(name, /_total$/, name);
      assert.ok(!/_ms$|_milliseconds|_us$/.test(name), `${name}: use seconds`);
    }

    assert.equal(await e.metric('scorestream_events_in_total'), 205);
    assert.equal(await e.metric('scorestream_predictions_total'), 201);
    assert.equal(await e.metric('scorestream_dlq_records_total', { topic: run.validation }), 3);
    assert.equal(await e.metric('scorestream_dlq_records_total', { topic: run.late }), 1);
    assert.equal(await e.metric('scorestream_fallbacks_total'), 0);
    assert.equal(await e.metric('scorestream_end_to_end_seconds_count'), 201);
    assert.ok((await e.metric('scorestream_end_to_end_seconds_sum')) > 0);
    assert.ok((await e.metric('scorestream_inference_seconds_count')) > 0);
    assert.ok((await e.metric('scorestream_batch_rows_count')) > 0);
    assert.equal(await e.metric('scorestream_paused_partitions'), 0);
    assert.equal(await e.metric('scorestream_worker_restarts_total'), 0);
    assert.equal(await e.metric('scorestream_model_info', { version: MODEL_VERSION }), 1);
    assert.equal(await e.metric('scorestream_workers'), 2);
    // Lag is per partition of the input topic.
    const lagSeries = text.split('\n').filter((l) => l.startsWith('scorestream_consumer_lag{'));
    assert.ok(lagSeries.length >= 1);
    for (const l of lagSeries) assert.match(l, new RegExp(`^scorestream_consumer_lag\\{topic="${run.input}",partition="[0-3]"\\} 0$`));

    const ready = await fetch(`http://127.0.0.1:${e.port}/readyz`);
    assert.equal(ready.status, 200);
    assert.deepEqual(await ready.json(), { ready: true, reasons: [] });
    const health = await fetch(`http://127.0.0.1:${e.port}/healthz`);
    assert.equal(health.status, 200);
    assert.equal(((await health.json()) as { status: string }).status, 'ok');
    assert.equal((await fetch(`http://127.0.0.1:${e.port}/nope`)).status, 404);

    const { code } = await e.stop();
    assert.equal(code, 0);
    // Info-level logs never carry event payloads.
    assert.ok(!e.stderr().includes('metrics-marker'), 'an event payload reached the logs');
  });
});

test('Redis unreachable: /readyz 503 naming Redis, /healthz 200, events scored with the fallback and counted by reason', { timeout: 120_000 }, async () => {
  await withOpsRun('ops-noredis', async ({ run, producer, out, start }) => {
    // A port nothing listens on: the engine starts anyway and falls back until Redis appears.
    const deadRedis = `redis://127.0.0.1:${await freePort()}`;
    const e = await start({ ...run.env, REDIS_URL: deadRedis });
    let body: { ready: boolean; reasons: string[] } = { ready: true, reasons: [] };
    await until(async () => {
      try {
        const r = await fetch(`http://127.0.0.1:${e.port}/readyz`);
        body = (await r.json()) as typeof body;
        return r.status === 503 && body.reasons.includes('redis not reachable') && !body.reasons.some((x) => x.startsWith('no partitions'));
      } catch {
        return false;
      }
    }, 60_000, '/readyz to report only Redis');
    assert.equal(body.ready, false);
    assert.equal((await fetch(`http://127.0.0.1:${e.port}/healthz`)).status, 200);

    const base = Date.now() - 60_000;
    await produce(producer, run.input, Array.from({ length: 20 }, (_, i) => ({ key: `u${i}`, value: eventValue({ user: `u${i}`, product: `p${i}`, ts: base + i }) })));
    await out.waitFor(20, 60_000);
    for (const r of out.records) {
      const v = JSON.parse(r.value) as { prediction: number; fallback: boolean };
      assert.equal(v.fallback, true);
      assert.equal(v.prediction, 0.5);
    }
    assert.equal(await e.metric('scorestream_fallbacks_total', { reason: 'feature_store' }), 20);
    assert.equal((await e.stop()).code, 0);
  });
});
