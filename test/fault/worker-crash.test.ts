// Fault test 2: worker threads crash mid-run (SIGUSR2 with SCORESTREAM_FAULT_INJECTION=1 makes
// one lane's worker throw an uncaught error). The crashed worker is replaced and its in-flight
// events are re-sent in order: nothing lost, nothing duplicated, per-user order kept.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Audit, engineDiagnostics, summarize, sample } from '../kit/audit.js';
import { startEngine, type EngineProcess } from '../kit/engine-process.js';
import { startLoad } from '../kit/load.js';
import { engineEnv, topicsFor } from '../kit/scenario.js';
import { assertServicesReachable, kafka, uniqueName } from '../kit/services.js';

const EVENTS = 12_000;
const RATE = 2_000;
const CRASHES = 5;

let engine: EngineProcess | null = null;
before(async () => {
  await assertServicesReachable();
});
after(async () => {
  await engine?.kill9();
});

test('worker threads crashing mid-run lose nothing and keep per-user order', { timeout: 90_000 }, async () => {
  const name = uniqueName('fault-worker');
  const t = topicsFor(name);
  const audit = await Audit.start({ inputTopic: t.input, outputTopic: t.output, dlqTopics: [t.validation, t.processing, t.late], createTopics: 4 });
  try {
    engine = await startEngine(
      engineEnv(name, t, {
        SCORESTREAM_FAULT_INJECTION: '1',
        // Slower micro-batches keep rows inside the workers when they crash.
        SCORESTREAM_INJECT_BATCH_DELAY_MS: '5',
      }),
    );
    await engine.waitReady();
    const load = await startLoad({ kafka: kafka(), topic: t.input, rate: RATE, total: EVENTS });
    try {
      for (let i = 0; i < CRASHES; i++) {
        await new Promise((r) => setTimeout(r, 800));
        engine.child.kill('SIGUSR2');
      }
      await load.done;
    } finally {
      await load.stop();
    }
    const report = await audit.finish({ timeoutMs: 60_000 });
    const restarts = await engine.metric('scorestream_worker_restarts_total');
    console.log(`# worker crash x${CRASHES}: ${summarize(report)}; scorestream_worker_restarts_total ${restarts}`);
    assert.equal(report.inputs, EVENTS);
    if (report.lost.length) assert.fail(`lost ${report.lost.length}: ${sample(report.lost)}\n${await audit.brokerCounts()}\n${await engineDiagnostics(engine)}`);
    assert.equal(report.extraCopies, 0);
    assert.equal(report.outOfOrderFirst.length, 0, JSON.stringify(report.outOfOrderFirst.slice(0, 20)));
    assert.equal(report.unattributed, 0);
    // Every injected crash replaced a worker (a crash injected while a lane restarts still lands on its new worker).
    assert.ok(restarts > 0 && restarts <= CRASHES, `scorestream_worker_restarts_total ${restarts}`);
    // Every event was scored by a model, none fell back.
    const fallbacks = audit.of(t.output).filter((r) => JSON.parse(r.value.toString()).fallback).length;
    assert.equal(fallbacks, 0);
    const stopped = await engine.stop();
    assert.equal(stopped.code, 0, engine.stderr().slice(-2000));
  } finally {
    await audit.stop();
  }
});
