// The engine in exactly-once mode while the broker's replies to EndTxn are lost for a few
// seconds under load (a network that drops the answer after the broker acted on the request):
// the transactions' outcomes are unknown to the engine. A throwaway broker is reached through
// test/kit/kafka-frame-proxy.ts, which cuts the connection instead of delivering such a reply.
// Nothing lost, nothing duplicated (read_committed audit), the engine does not exit.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Audit, engineDiagnostics, longestStall, sample, summarize } from '../kit/audit.js';
import { startEngine, type EngineProcess } from '../kit/engine-process.js';
import { ApiKey, KafkaFrameProxy } from '../kit/kafka-frame-proxy.js';
import { KafkaBroker } from '../kit/kafka-broker.js';
import { startLoad } from '../kit/load.js';
import { engineEnv, topicsFor } from '../kit/scenario.js';
import { uniqueName } from '../kit/services.js';

let broker: KafkaBroker | null = null;
let proxy: KafkaFrameProxy | null = null;
before(async () => {
  broker = await KafkaBroker.create({ viaProxy: true });
  await broker.start();
  proxy = await KafkaFrameProxy.start(broker.host, broker.proxyPort, broker.host, broker.viaProxyPort);
});
after(async () => {
  await proxy?.close();
  await broker?.destroy();
});

const RATE = 300;
const LOSS_MS = 5000;

for (const client of ['kafkajs', 'platformatic'] as const) {
  test(`${client}, exactly-once: every EndTxn reply lost for ${LOSS_MS / 1000} s under ${RATE} events/s → nothing lost, no duplicates, no exit`, { timeout: 150_000 }, async () => {
    const b = broker!;
    const name = uniqueName('txlost');
    const t = topicsFor(name);
    const total = RATE * 14;
    const audit = await Audit.start({ brokers: b.brokers, inputTopic: t.input, outputTopic: t.output, dlqTopics: [t.validation, t.processing, t.late], createTopics: 4 });
    let engine: EngineProcess | null = null;
    try {
      engine = await startEngine(engineEnv(name, t, { KAFKA_BROKERS: b.proxiedBrokers, KAFKA_CLIENT: client, GUARANTEE: 'exactly-once', FEATURE_STORE: 'memory' }));
      await engine.waitReady();
      const load = await startLoad({ kafka: b.client(), topic: t.input, rate: RATE, total });
      let lostFrom = 0;
      let lostTo = 0;
      try {
        await audit.waitFor((rs) => rs.some((r) => r.topic === t.output), 60_000, 'the first committed output');
        const lostBefore = proxy!.lostReplies(ApiKey.EndTxn);
        proxy!.loseReplies(ApiKey.EndTxn);
        lostFrom = Date.now();
        // The fault lasts this long (not a wait for nothing to happen).
        await new Promise((r) => setTimeout(r, LOSS_MS));
        proxy!.deliverReplies(ApiKey.EndTxn);
        lostTo = Date.now();
        assert.ok(proxy!.lostReplies(ApiKey.EndTxn) > lostBefore, 'EndTxn replies were lost');
        await load.done;
      } finally {
        proxy!.deliverReplies(ApiKey.EndTxn);
        await load.stop();
      }
      const report = await audit.finish({ timeoutMs: 90_000 });
      const outs = audit.records.filter((r) => r.topic === t.output);
      console.log(`# ${client}: ${summarize(report)}; ${proxy!.lostReplies(ApiKey.EndTxn)} EndTxn replies lost so far; longest partition stall from the loss to 5 s after it ${longestStall(outs, lostFrom, lostTo + 5000)} ms`);
      if (report.lost.length) assert.fail(`lost ${report.lost.length}: ${sample(report.lost)}\n${await engineDiagnostics(engine)}`);
      assert.equal(report.inputs, total);
      assert.equal(report.extraCopies, 0, 'duplicates under exactly-once');
      assert.equal(report.unattributed, 0);
      assert.equal(engine.child.exitCode, null, `engine exited:\n${engine.stderr().slice(-3000)}`);
    } finally {
      await engine?.kill9();
      await audit.stop();
    }
  });
}
