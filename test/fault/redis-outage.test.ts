// Fault test 3: a dedicated Redis (never the shared one on 6379) is stopped for 10 s under load
// and started again. The engine does not crash and loses nothing; during the outage events are
// scored with the fallback prediction (or, with ON_FEATURE_ERROR=dlq, go to processing_errors
// with a stack trace and attempt count); normal scoring resumes soon after Redis is back.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Audit, engineDiagnostics, readTopic, summarize, sample } from '../kit/audit.js';
import { originalBytes } from '../kit/bad-inputs.js';
import { startEngine, type EngineProcess } from '../kit/engine-process.js';
import { startLoad } from '../kit/load.js';
import { RedisServer } from '../kit/redis-server.js';
import { engineEnv, topicsFor } from '../kit/scenario.js';
import { assertServicesReachable, kafka, uniqueName } from '../kit/services.js';

const RATE = 2_000;
const BEFORE_MS = 3_000;
const OUTAGE_MS = 10_000;
const AFTER_MS = 4_000;
const EVENTS = (RATE * (BEFORE_MS + OUTAGE_MS + AFTER_MS)) / 1000;
/** Loose: the target is ~1 s, the machine is shared and noisy. */
const RESUME_BOUND_MS = 5_000;

let redis: RedisServer | null = null;
let engine: EngineProcess | null = null;
before(async () => {
  await assertServicesReachable();
});
after(async () => {
  await engine?.kill9();
  await redis?.destroy();
});

interface Prediction {
  fallback: boolean;
  processing_time: number;
}

async function outageRun(onFeatureError: 'fallback' | 'dlq') {
  const name = uniqueName(`fault-redis-${onFeatureError}`);
  const t = topicsFor(name);
  redis = await RedisServer.create();
  await redis.start();
  const audit = await Audit.start({ inputTopic: t.input, outputTopic: t.output, dlqTopics: [t.validation, t.processing, t.late], createTopics: 4 });
  try {
    engine = await startEngine(engineEnv(name, t, { REDIS_URL: redis.url, ON_FEATURE_ERROR: onFeatureError }));
    await engine.waitReady();
    const load = await startLoad({ kafka: kafka(), topic: t.input, rate: RATE, total: EVENTS });
    let downAt = 0;
    let upAt = 0;
    try {
      await new Promise((r) => setTimeout(r, BEFORE_MS));
      downAt = Date.now();
      await redis.stop();
      await new Promise((r) => setTimeout(r, OUTAGE_MS));
      await redis.start();
      upAt = Date.now();
      await load.done;
    } finally {
      await load.stop();
    }
    const report = await audit.finish({ timeoutMs: 60_000 });
    const preds = audit.of(t.output).map((r) => JSON.parse(r.value.toString()) as Prediction);
    const fallbacks = preds.filter((p) => p.fallback);
    const lastFallback = Math.max(0, ...fallbacks.map((p) => p.processing_time));
    const firstNormalAfter = Math.min(...preds.filter((p) => !p.fallback && p.processing_time >= upAt).map((p) => p.processing_time));
    const dlq = audit.of(t.processing);
    const lastDlq = Math.max(0, ...dlq.map((r) => JSON.parse(r.value.toString()).timestamp as number));
    // Normal scoring resumed when the last degraded output was made (or at the first normal one, if later).
    const lastDegraded = Math.max(lastFallback, lastDlq);
    const resumeMs = Math.max(0, Math.max(lastDegraded, firstNormalAfter) - upAt);
    console.log(
      `# redis down ${OUTAGE_MS} ms (ON_FEATURE_ERROR=${onFeatureError}): ${summarize(report)}; fallbacks ${fallbacks.length}, processing_errors ${dlq.length}; ` +
        `last degraded output ${lastDegraded - upAt} ms after Redis returned, first normal ${firstNormalAfter - upAt} ms after; normal scoring resumed after ${resumeMs} ms`,
    );
    assert.equal(engine.child.exitCode, null, `engine exited during the outage:\n${engine.stderr().slice(-2000)}`);
    assert.equal(report.inputs, EVENTS);
    if (report.lost.length) assert.fail(`lost ${report.lost.length}: ${sample(report.lost)}\n${await audit.brokerCounts()}\n${await engineDiagnostics(engine)}`);
    assert.equal(report.extraCopies, 0);
    assert.equal(report.outOfOrderFirst.length, 0, JSON.stringify(report.outOfOrderFirst.slice(0, 20)));
    // Degraded outputs only around the outage, and normal ones after it.
    assert.ok(lastDegraded >= downAt, 'no degraded output during the outage');
    for (const p of fallbacks) assert.ok(p.processing_time >= downAt - 1000, `fallback before the outage at ${p.processing_time - downAt} ms`);
    assert.ok(Number.isFinite(firstNormalAfter), 'no normal scoring after Redis returned');
    assert.ok(resumeMs <= RESUME_BOUND_MS, `normal scoring resumed ${resumeMs} ms after Redis returned`);
    const stopped = await engine.stop();
    assert.equal(stopped.code, 0, engine.stderr().slice(-2000));
    return { report, fallbacks: fallbacks.length, dlq, input: await readTopic(t.input) };
  } finally {
    await audit.stop();
    await redis.destroy();
    redis = null;
  }
}

test('Redis down for 10 s under load (fallback): no crash, nothing lost, fallback predictions during the outage, normal scoring soon after', { timeout: 90_000 }, async () => {
  const { fallbacks, dlq } = await outageRun('fallback');
  assert.ok(fallbacks > 0, 'no fallback predictions');
  assert.equal(dlq.length, 0);
});

test('Redis down for 10 s under load (ON_FEATURE_ERROR=dlq): events go to processing_errors with stack trace and attempts, then normal again', { timeout: 90_000 }, async () => {
  const { fallbacks, dlq, input } = await outageRun('dlq');
  assert.equal(fallbacks, 0);
  assert.ok(dlq.length > 0, 'no processing_errors records');
  for (const r of dlq) {
    const v = JSON.parse(r.value.toString());
    const where = `${v.source.partition}:${v.source.offset}`;
    assert.equal(v.error_type, 'PROCESSING_ERROR');
    assert.equal(r.headers['x-error-type'], 'PROCESSING_ERROR');
    assert.equal(typeof v.stack_trace, 'string');
    assert.match(v.stack_trace, /\n\s+at /, 'stack_trace is not a stack trace');
    assert.ok(Number.isInteger(v.attempts) && v.attempts >= 1, `attempts ${v.attempts}`);
    assert.equal(r.headers['x-source'], `${v.source.topic}/${v.source.partition}/${v.source.offset}`);
    const original = input.get(where);
    assert.ok(original?.value && originalBytes(v)!.equals(original.value), `${where}: original bytes differ`);
  }
});
