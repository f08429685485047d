// Fault test 4: the Kafka broker (a dedicated throwaway one, never the shared broker on 9092) is
// stopped for 10 s under load and started again. The engine reconnects and resumes on its own:
// nothing lost, the failure-rate exit is not triggered.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Audit, engineDiagnostics, summarize, sample } from '../kit/audit.js';
import { startEngine, type EngineProcess } from '../kit/engine-process.js';
import { startLoad } from '../kit/load.js';
import { engineEnv, topicsFor } from '../kit/scenario.js';
import { assertServicesReachable, uniqueName } from '../kit/services.js';
import { KafkaBroker } from '../kit/kafka-broker.js';

const RATE = 1_000;
const EVENTS = 20_000;
const BEFORE_MS = 3_000;
const OUTAGE_MS = 10_000;

let broker: KafkaBroker | null = null;
let engine: EngineProcess | null = null;
before(async () => {
  await assertServicesReachable(); // Redis (shared) for features
  broker = await KafkaBroker.create();
  await broker.start();
});
after(async () => {
  await engine?.kill9();
  await broker?.destroy();
});

test('Kafka broker stopped for 10 s under load: the engine reconnects and resumes, nothing lost, no exit', { timeout: 150_000 }, async () => {
  const b = broker!;
  const name = uniqueName('fault-broker');
  const t = topicsFor(name);
  const audit = await Audit.start({ brokers: b.brokers, inputTopic: t.input, outputTopic: t.output, dlqTopics: [t.validation, t.processing, t.late], createTopics: 4 });
  try {
    engine = await startEngine(engineEnv(name, t, { KAFKA_BROKERS: b.brokers }));
    await engine.waitReady();
    let firstAfter: number | null = null;
    let upAt = Infinity;
    audit.onRecord((r) => {
      if (firstAfter === null && r.timestamp >= upAt) firstAfter = r.receivedAt;
    });
    const load = await startLoad({ kafka: b.client(), topic: t.input, rate: RATE, total: EVENTS });
    let downAt = 0;
    let stoppedAt = 0;
    try {
      await new Promise((r) => setTimeout(r, BEFORE_MS));
      downAt = Date.now();
      await b.stop();
      stoppedAt = Date.now();
      await new Promise((r) => setTimeout(r, OUTAGE_MS));
      await b.start();
      upAt = Date.now();
      assert.equal(engine.child.exitCode, null, `engine exited during the outage:\n${engine.stderr().slice(-3000)}`);
      await load.done;
    } finally {
      await load.stop();
    }
    const loadDoneAt = Date.now();
    const report = await audit.finish({ timeoutMs: 90_000 });
    const finishedAt = Date.now();
    const resumeMs = firstAfter === null ? NaN : firstAfter - upAt;
    console.log(
      `# broker down ${upAt - downAt} ms (stop took ${stoppedAt - downAt} ms, ${OUTAGE_MS} ms stopped, start took ${upAt - stoppedAt - OUTAGE_MS} ms): ${summarize(report)}; ` +
        `first new output visible ${resumeMs} ms after the broker answered again; producer re-sends ${load.failedSends}; ` +
        `load acknowledged ${loadDoneAt - upAt} ms after the broker returned, everything accounted for ${finishedAt - loadDoneAt} ms later`,
    );
    assert.equal(engine.child.exitCode, null, `engine exited:\n${engine.stderr().slice(-3000)}`);
    // A send that timed out while the broker stopped may still have been written: the test's
    // producer then sent it again, so the input can hold a few more records than EVENTS.
    assert.ok(report.inputs >= EVENTS, `input holds ${report.inputs} records`);
    if (report.lost.length) assert.fail(`lost ${report.lost.length}: ${sample(report.lost)}\n${await audit.brokerCounts()}\n${await engineDiagnostics(engine, 20_000)}`);
    assert.equal(report.outOfOrderFirst.length, 0, JSON.stringify(report.outOfOrderFirst.slice(0, 20)));
    assert.equal(report.unattributed, 0);
    assert.ok(firstAfter !== null, 'no output after the broker returned');
    const stopped = await engine.stop();
    assert.equal(stopped.code, 0, engine.stderr().slice(-3000));
  } finally {
    await audit.stop();
  }
});
