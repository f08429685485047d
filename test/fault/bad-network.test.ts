// A bad network: the engine reaches a dedicated throwaway broker (on a network namespace's host
// address, as network-partition.test.ts) through test/kit/delay-proxy.ts, and for a minute under
// load every chunk waits 50 ms each way and 1% of them one more 200 ms retransmission timeout
// (what a lost segment costs). This kernel has no netem qdisc (tc qdisc add ... netem: "Specified
// qdisc kind is unknown"), hence the proxy. Nothing lost, no crash, output continues throughout.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Audit, engineDiagnostics, longestStall, sample, summarize } from '../kit/audit.js';
import { startEngine, type EngineProcess } from '../kit/engine-process.js';
import { KafkaBroker } from '../kit/kafka-broker.js';
import { startLoad } from '../kit/load.js';
import { NetNamespace } from '../kit/netns.js';
import { DelayProxy } from '../kit/delay-proxy.js';
import { engineEnv, topicsFor } from '../kit/scenario.js';
import { uniqueName } from '../kit/services.js';

let ns: NetNamespace | null = null;
let broker: KafkaBroker | null = null;
before(async () => {
  ns = NetNamespace.create();
  broker = await KafkaBroker.create({ host: ns.hostIp, viaProxy: true });
  await broker.start();
});
after(async () => {
  await broker?.destroy();
  ns?.destroy();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('50 ms delay and 1% loss both ways for a minute: nothing lost, no crash, output continues throughout', { timeout: 240_000 }, async () => {
  const b = broker!;
  const name = uniqueName('netem');
  const t = topicsFor(name);
  const phaseMs = { before: 15_000, bad: 60_000, after: 15_000 };
  const rate = 300;
  const events = (rate * (phaseMs.before + phaseMs.bad + phaseMs.after)) / 1000;
  const audit = await Audit.start({ brokers: b.brokers, inputTopic: t.input, outputTopic: t.output, dlqTopics: [t.validation, t.processing, t.late], createTopics: 4 });
  let engine: EngineProcess | null = null;
  const proxy = await DelayProxy.start(b.host, b.proxyPort, b.host, b.viaProxyPort);
  try {
    engine = await startEngine(engineEnv(name, t, { KAFKA_BROKERS: b.proxiedBrokers, FEATURE_STORE: 'memory' }));
    await engine.waitReady();
    const load = await startLoad({ kafka: b.client(), topic: t.input, rate, total: events });
    const startAt = Date.now();
    let badAt = 0;
    let goodAt = 0;
    try {
      await sleep(phaseMs.before);
      proxy.set({ delayMs: 50, lossPct: 1 });
      badAt = Date.now();
      await sleep(phaseMs.bad);
      proxy.set({ delayMs: 0, lossPct: 0 });
      goodAt = Date.now();
      assert.equal(engine.child.exitCode, null, `engine exited:\n${engine.stderr().slice(-3000)}`);
      await load.done;
    } finally {
      proxy.set({ delayMs: 0, lossPct: 0 });
      await load.stop();
    }
    const report = await audit.finish({ timeoutMs: 120_000 });
    const outs = audit.records.filter((r) => r.topic === t.output);
    // Event (producer clock) to output visible to the audit: both on this machine's clock.
    const phase = (from: number, to: number) => {
      const xs = outs.filter((r) => r.receivedAt >= from && r.receivedAt < to);
      const lat = xs.map((r) => r.receivedAt - (JSON.parse(r.value.toString()) as { event_time: number }).event_time).sort((x, y) => x - y);
      return { perSec: (xs.length * 1000) / (to - from), p50: lat[Math.floor(lat.length / 2)] ?? NaN, p99: lat[Math.floor(lat.length * 0.99)] ?? NaN, n: xs.length };
    };
    const endAt = Math.max(...outs.map((r) => r.receivedAt));
    const [p0, p1, p2] = [phase(startAt, badAt), phase(badAt, goodAt), phase(goodAt, endAt + 1)];
    const fmt = (p: ReturnType<typeof phase>) => `${p.perSec.toFixed(0)}/s, p50 ${p.p50} ms, p99 ${p.p99} ms`;
    console.log(`# bad network (50 ms each way, 1% loss as 200 ms stalls): ${summarize(report)}; before ${fmt(p0)}; during ${fmt(p1)}; after ${fmt(p2)}; longest partition stall during ${longestStall(outs, badAt, goodAt)} ms`);
    if (report.lost.length) assert.fail(`lost ${report.lost.length}: ${sample(report.lost)}\n${await audit.brokerCounts()}\n${await engineDiagnostics(engine)}`);
    assert.ok(report.inputs >= events);
    assert.ok(p1.n > 0 && p2.n > 0, 'no output during or after the bad network');
    assert.equal(engine.child.exitCode, null, `engine exited:\n${engine.stderr().slice(-3000)}`);
  } finally {
    await engine?.kill9();
    await audit.stop();
    await proxy.close();
  }
});
