// Backpressure: a slow engine (one worker, every micro-batch delayed 20 ms) facing 10,000
// pre-produced events keeps what it holds in flight bounded, pauses partitions, keeps its
// memory bounded, and still predicts every event.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fetchBytesPerPartition } from '../../src/source/kafka-source.js';
import { endOffsets } from '../kit/audit.js';
import { withEngineScenario } from '../kit/engine-scenario.js';
import { generateEvents } from '../kit/events.js';
import { produceEvents } from '../kit/produce.js';
import { createScenario } from '../kit/scenario.js';

const EVENTS = 10_000;
const PARTITIONS = 4;
const PER_PARTITION = 100;
const TOTAL = 300;
const PRODUCE_BATCH = 100;
const RSS_LIMIT = 400 * 1024 * 1024;

const run = withEngineScenario();

test('in-flight stays within its bound plus one fetch, partitions pause, RSS stays bounded, all 10,000 predicted', { timeout: 120_000 }, async (t) => {
  const sc = await createScenario('backpressure', PARTITIONS);
  const events = generateEvents({ count: EVENTS, users: 400, startMs: Date.now() - 86_400_000, meanStepMs: 1000, seed: 3 });
  await produceEvents(sc.input, events, { partitions: PARTITIONS, batchSize: PRODUCE_BATCH });
  const ends = await endOffsets(sc.input);

  // The bound. The engine checks it after each fetched batch and pauses then; kafkajs delivers
  // every batch of a fetch response it already has (one per partition) before the next fetch,
  // and a paused partition's batches in later responses are dropped. So in-flight can exceed
  // MAX_IN_FLIGHT - 1 by at most one fetch batch per partition. A fetch batch holds at most
  // fetchBytesPerPartition(MAX_IN_FLIGHT_PER_PARTITION) bytes of records (the broker cuts the
  // read there; kafkajs drops the partial last batch) unless its first record batch alone is
  // bigger, in which case it is that one record batch; every record on disk is larger than its
  // JSON value, so bytes / smallest value bounds the records in it.
  const minValueBytes = Math.min(...events.map((e) => JSON.stringify(e).length));
  const perProducerBatch = PRODUCE_BATCH; // a send's record batch for one partition holds at most the whole send
  const fetchBatch = Math.max(Math.ceil(fetchBytesPerPartition(PER_PARTITION) / minValueBytes), perProducerBatch);
  const bound = TOTAL - 1 + PARTITIONS * fetchBatch;
  t.diagnostic(`bound ${bound} = ${TOTAL - 1} + ${PARTITIONS} x ${fetchBatch} (fetch ${fetchBytesPerPartition(PER_PARTITION)} B / smallest value ${minValueBytes} B)`);
  assert.ok(bound < EVENTS / 4, 'the bound is far below what the topic holds: fetching everything at once would break it');

  // Not waiting until ready: the sampler below starts at once.
  const { reader, engine } = await run.start(
    sc,
    {
      WORKERS: '1',
      MAX_IN_FLIGHT_PER_PARTITION: String(PER_PARTITION),
      MAX_IN_FLIGHT: String(TOTAL),
      SCORESTREAM_FAULT_INJECTION: '1',
      SCORESTREAM_INJECT_BATCH_DELAY_MS: '20',
    },
    false,
  );

  // Sample /metrics every 50 ms until every event has its prediction.
  const samples = { n: 0, inFlight: 0, pausedMax: 0, rssMax: 0, inFlightMax: 0 };
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      try {
        const text = await engine.metrics();
        const get = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
        samples.n++;
        samples.inFlight = Math.max(samples.inFlight, get('scorestream_in_flight_events'));
        samples.inFlightMax = Math.max(samples.inFlightMax, get('scorestream_in_flight_events_max'));
        samples.pausedMax = Math.max(samples.pausedMax, get('scorestream_paused_partitions'));
        // prom-client's default process metrics under the engine's 'scorestream_process_' prefix.
        samples.rssMax = Math.max(samples.rssMax, get('scorestream_process_resident_memory_bytes'));
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  try {
    await engine.waitReady();
    await reader.waitForCoverage(ends, 90_000);
  } finally {
    sampling = false;
    await sampler;
  }
  // The high-water mark as of the end (it is only ever raised).
  const highWater = await engine.metric('scorestream_in_flight_events_max');
  t.diagnostic(`${samples.n} samples: in-flight high-water ${highWater}, commit-tick gauge max ${samples.inFlight}, paused max ${samples.pausedMax}, RSS max ${(samples.rssMax / 2 ** 20).toFixed(0)} MB`);

  assert.ok(samples.n >= 10, `enough samples (${samples.n})`);
  assert.ok(highWater > 0 && highWater <= bound, `in-flight high-water ${highWater} within ${bound}`);
  // The commit-tick gauge counts received-not-committed; with one lane results come back in
  // offset order, so nothing done waits behind an unfinished offset and it is in-flight too.
  assert.ok(samples.inFlight <= bound, `sampled in-flight gauge ${samples.inFlight} within ${bound}`);
  assert.ok(samples.pausedMax > 0, 'some partition was paused');
  assert.ok(samples.rssMax > 0 && samples.rssMax < RSS_LIMIT, `RSS ${samples.rssMax} below ${RSS_LIMIT}`);

  const r = await run.finish(t, ends);
  assert.equal(r.lost.length, 0);
  assert.equal(r.duplicates.length, 0);
  assert.equal(r.predictions, EVENTS);
  assert.ok(reader.predictions.every((p) => !p.value.fallback));

  await run.stop();
});
