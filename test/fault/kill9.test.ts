// Fault test 1: `kill -9` the engine three times during a 30,000-event run produced open loop at
// 2,000 events/s, restarting it each time. At-least-once: nothing lost, duplicates bounded by
// the in-flight limit per kill. Exactly-once: nothing lost, nothing duplicated (the audit reads
// committed records only). Prints the time from each restart to its first new output.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Audit, summarize, sample } from '../kit/audit.js';
import { startEngine, type EngineProcess } from '../kit/engine-process.js';
import { runs } from '../kit/guarantees.js';
import { startLoad } from '../kit/load.js';
import { engineEnv, topicsFor } from '../kit/scenario.js';
import { assertServicesReachable, kafka, uniqueName } from '../kit/services.js';

const EVENTS = 30_000;
const RATE = 2_000;
const KILLS = 3;
const MAX_IN_FLIGHT = 4_000;

const engines: EngineProcess[] = [];
before(async () => {
  await assertServicesReachable();
});
after(async () => {
  for (const e of engines) await e.kill9();
});

interface Restart {
  /** Input produced and input accounted for (output or DLQ) when the engine was killed. */
  produced: number;
  done: number;
  at: number;
  readyMs: number;
  firstOutputMs: number;
}

async function killRun(guarantee: 'at-least-once' | 'exactly-once'): Promise<{ report: Awaited<ReturnType<Audit['finish']>>; restarts: Restart[] }> {
  const name = uniqueName(`fault-kill-${guarantee === 'exactly-once' ? 'eos' : 'alo'}`);
  const topics = topicsFor(name);
  const audit = await Audit.start({ inputTopic: topics.input, outputTopic: topics.output, dlqTopics: [topics.validation, topics.processing, topics.late], createTopics: 4 });
  const env = engineEnv(name, topics, {
    TRANSACTIONAL_ID_PREFIX: name,
    GUARANTEE: guarantee,
    MAX_IN_FLIGHT: String(MAX_IN_FLIGHT),
    MAX_IN_FLIGHT_PER_PARTITION: String(MAX_IN_FLIGHT / 4),
  });
  let engine = await startEngine(env);
  engines.push(engine);
  await engine.waitReady();

  const restarts: Restart[] = [];
  // Time from a restart to the first record its process made visible (CreateTime after the restart).
  let pending: { at: number; resolve: (ms: number) => void } | null = null;
  audit.onRecord((r) => {
    if (pending && r.timestamp >= pending.at) {
      const p = pending;
      pending = null;
      p.resolve(r.receivedAt - p.at);
    }
  });

  const load = await startLoad({ kafka: kafka(), topic: topics.input, rate: RATE, total: EVENTS });
  try {
    for (let k = 0; k < KILLS; k++) {
      // Kill while events are in flight: the first time after 10% of the load, then 300 ms after
      // each restarted engine's first output, i.e. while it works through the backlog that
      // built up while it was down (a restart takes ~6 s, the whole load 15 s).
      if (k === 0) await audit.waitFor(() => audit.covered >= EVENTS * 0.1, 60_000, `${EVENTS * 0.1} events before kill 1`);
      else await new Promise((r) => setTimeout(r, 300));
      const done = audit.covered;
      const produced = load.acked;
      assert.ok(done < EVENTS, `kill ${k + 1} came after every event was processed`);
      await engine.kill9();
      const at = Date.now();
      const first = new Promise<number>((resolve) => (pending = { at, resolve }));
      engine = await startEngine(env);
      engines.push(engine);
      await engine.waitReady(60_000);
      const readyMs = Date.now() - at;
      const firstOutputMs = await withTimeout(first, 60_000, `no output within 60 s of restart ${k + 1}`);
      restarts.push({ produced, done, at, readyMs, firstOutputMs });
    }
    await load.done;
    assert.ok(load.scheduleMs <= (EVENTS / RATE) * 1000 + 2000, `load kept its schedule (${load.scheduleMs} ms for ${EVENTS} events)`);
    // Everything accounted for, then a graceful stop (its final commit), then the final count.
    await audit.waitFor((rs) => rs.length >= EVENTS, 120_000, 'all events');
    const r = await audit.finish({ timeoutMs: 60_000 });
    const stopped = await engine.stop();
    assert.equal(stopped.code, 0, `engine exited ${stopped.code}:\n${engine.stderr().slice(-2000)}`);
    // What the engines had to retry (warn level): e.g. CONCURRENT_TRANSACTIONS after a crash.
    const warnings = new Map<string, number>();
    for (const e of engines.slice(-(KILLS + 1))) {
      for (const line of e.stderr().split('\n')) {
        const m = /"msg":"([^"]*)"/.exec(line);
        if (!m) continue;
        if (/switched default partitioner/.test(m[1]) || Number(/"level":(\d+)/.exec(line)?.[1] ?? 0) < 40) continue;
        const error = /"error":"([^"]{0,80})/.exec(line)?.[1];
        const k = error ? `${m[1]} (${error})` : m[1];
        warnings.set(k, (warnings.get(k) ?? 0) + 1);
      }
    }
    if (warnings.size) console.log(`#   engine warnings: ${JSON.stringify(Object.fromEntries(warnings))}`);
    return { report: r, restarts };
  } catch (err) {
    const m = await engine.metrics().catch(() => '');
    const gauges = m.split('\n').filter((l) => /^scorestream_(?!process_|end_to_end|inference|batch_rows)/.test(l)).join('\n');
    (err as Error).message += `\nrestarts so far: ${JSON.stringify(restarts)}\nlast engine's metrics:\n${gauges}\nlast engine's stderr:\n${engine.stderr().slice(-6000)}`;
    throw err;
  } finally {
    await load.stop();
    await audit.stop();
  }
}

function withTimeout<T>(p: Promise<T>, ms: number, message: string): Promise<T> {
  let t: NodeJS.Timeout | undefined;
  return Promise.race([p, new Promise<never>((_, rej) => (t = setTimeout(() => rej(new Error(message)), ms)))]).finally(() => clearTimeout(t));
}

function print(mode: string, report: Awaited<ReturnType<Audit['finish']>>, restarts: Restart[]): void {
  console.log(`# kill -9 x${KILLS} (${mode}): ${summarize(report)}`);
  restarts.forEach((r, i) =>
    console.log(`#   kill ${i + 1} with ${r.produced} events produced, ${r.done} done; restart ready after ${r.readyMs} ms, first new output visible after ${r.firstOutputMs} ms`),
  );
}

if (runs('at-least-once'))
  test('at-least-once: kill -9 three times during a 30,000-event run loses nothing; duplicates stay within the in-flight bound', { timeout: 180_000 }, async () => {
    const { report, restarts } = await killRun('at-least-once');
    print('at-least-once', report, restarts);
    assert.equal(restarts.length, KILLS);
    assert.equal(report.inputs, EVENTS);
    assert.equal(report.lost.length, 0, `lost: ${sample(report.lost)}`);
    assert.ok(report.extraCopies <= MAX_IN_FLIGHT * KILLS, `duplicates ${report.extraCopies} > MAX_IN_FLIGHT x kills = ${MAX_IN_FLIGHT * KILLS}`);
    assert.equal(report.outOfOrderFirst.length, 0, JSON.stringify(report.outOfOrderFirst.slice(0, 20)));
    assert.equal(report.unattributed, 0);
  });

if (runs('exactly-once'))
  test('exactly-once: kill -9 three times during a 30,000-event run loses nothing and duplicates nothing', { timeout: 180_000 }, async () => {
    const { report, restarts } = await killRun('exactly-once');
    print('exactly-once', report, restarts);
    assert.equal(restarts.length, KILLS);
    assert.equal(report.inputs, EVENTS);
    assert.equal(report.lost.length, 0, `lost: ${sample(report.lost)}`);
    assert.equal(report.extraCopies, 0);
    assert.equal(report.outOfOrderFirst.length, 0, JSON.stringify(report.outOfOrderFirst.slice(0, 20)));
    assert.equal(report.unattributed, 0);
  });
