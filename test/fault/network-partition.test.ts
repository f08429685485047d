// Network partition: one engine runs in its own network namespace (test/kit/netns.ts: veth pair,
// private /30, root only), joined to a dedicated throwaway broker that listens on the veth's host
// address. Features live in each engine's in-process store (the shared Redis listens on the host
// loopback only, which a namespace cannot reach). Its link is cut for 15 s under load while a
// second engine, on the host, shares the group: the group evicts it and hands its partitions
// over, it rejoins when the link returns; nothing is lost, at-least-once duplicates stay bounded,
// exactly-once has none (the partitioned engine is a zombie whose transactions are fenced by the
// new owner). The bad network (delay and loss) is bad-network.test.ts.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Audit, engineDiagnostics, longestStall, sample, summarize } from '../kit/audit.js';
import { startEngine, type EngineProcess } from '../kit/engine-process.js';
import { KafkaBroker } from '../kit/kafka-broker.js';
import { startLoad } from '../kit/load.js';
import { NetNamespace } from '../kit/netns.js';
import { engineEnv, topicsFor } from '../kit/scenario.js';
import { GUARANTEES } from '../kit/guarantees.js';
import { uniqueName } from '../kit/services.js';

const CUT_MS = 15_000;
const RATE = 400;

let ns: NetNamespace | null = null;
let broker: KafkaBroker | null = null;
before(async () => {
  ns = NetNamespace.create();
  broker = await KafkaBroker.create({ host: ns.hostIp });
  await broker.start();
});
after(async () => {
  ns?.heal();
  await broker?.destroy();
  ns?.destroy();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * For a failure message: of the input offsets the read_committed audit misses, how many have an
 * output record when read uncommitted (written but not committed: an open or aborted transaction)
 * and how many have none at all (never written).
 */
const lastAssigned = (e: EngineProcess) => e.stderr().split('\n').filter((l) => l.includes('"msg":"partitions assigned"')).slice(-3).map((l) => { const j = JSON.parse(l) as { time: number; assigned: number[] }; return `${new Date(j.time).toISOString().slice(11, 23)} [${j.assigned}]`; }).join(' ');

async function uncommittedView(b: KafkaBroker, group: string, output: string, input: string, lost: { partition: number; offset: number }[]): Promise<string> {
  const want = new Set(lost.map((l) => `${l.partition}:${l.offset}`));
  const found = new Map<string, number[]>();
  const admin = b.client().admin();
  await admin.connect();
  const ends = await admin.fetchTopicOffsets(output);
  await admin.disconnect();
  const pos = new Map(ends.map((e) => [e.partition, 0]));
  const high = new Map(ends.map((e) => [e.partition, Number(e.high)]));
  const c = b.client().consumer({ groupId: uniqueName('uncommitted-view'), readUncommitted: true, maxWaitTimeInMs: 100 });
  await c.connect();
  await c.subscribe({ topic: output, fromBeginning: true });
  const done = new Promise<void>((resolve) => {
    const t = setTimeout(resolve, 30_000);
    void c.run({
      eachBatch: async ({ batch }) => {
        for (const m of batch.messages) {
          try {
            const s = (JSON.parse(m.value?.toString() ?? '{}') as { source?: { topic: string; partition: number; offset: number } }).source;
            const k = s && s.topic === input ? `${s.partition}:${s.offset}` : '';
            if (want.has(k)) (found.get(k) ?? found.set(k, []).get(k)!).push(batch.partition * 1e9 + Number(m.offset));
          } catch {
            // not a prediction
          }
        }
        pos.set(batch.partition, Number(batch.lastOffset()) + 1);
        if ([...pos].every(([p, o]) => o >= high.get(p)! - 1)) {
          clearTimeout(t);
          resolve();
        }
      },
    });
  });
  await done;
  await c.disconnect();
  const at = [...found.values()].flat().slice(0, 5).map((x) => `${Math.floor(x / 1e9)}:${x % 1e9}`);
  const a2 = b.client().admin();
  await a2.connect();
  const [committed] = await a2.fetchOffsets({ groupId: group, topics: [input] });
  const inEnds = await a2.fetchTopicOffsets(input);
  await a2.disconnect();
  const groupView = `group committed ${JSON.stringify(committed.partitions.map((p) => [p.partition, p.offset]))}, input ends ${JSON.stringify(inEnds.map((e) => [e.partition, e.high]))}`;
  return `${groupView}; read uncommitted: ${found.size} of ${want.size} missing inputs have an output record (e.g. at output ${at.join(', ')}), ${want.size - found.size} have none; output ends ${JSON.stringify(ends.map((e) => [e.partition, e.high]))}`;
}

for (const guarantee of GUARANTEES) {
  test(`link of one of two engines cut for 15 s under load (${guarantee}): handed over, rejoins, nothing lost${guarantee === 'exactly-once' ? ', no duplicates' : ''}`, { timeout: 240_000 }, async () => {
    const b = broker!;
    const n = ns!;
    const name = uniqueName(`netcut-${guarantee === 'exactly-once' ? 'eos' : 'alo'}`);
    const t = topicsFor(name);
    const events = RATE * 40;
    const audit = await Audit.start({ brokers: b.brokers, inputTopic: t.input, outputTopic: t.output, dlqTopics: [t.validation, t.processing, t.late], createTopics: 4 });
    const env = engineEnv(name, t, { KAFKA_BROKERS: b.brokers, FEATURE_STORE: 'memory', GUARANTEE: guarantee, LOG_LEVEL: 'info' });
    let inside: EngineProcess | null = null;
    let outside: EngineProcess | null = null;
    try {
      inside = await startEngine({ ...env, METRICS_HOST: n.nsIp }, [], { prefix: n.exec, host: n.nsIp });
      await inside.waitReady();
      outside = await startEngine(env);
      await outside.waitReady();
      const load = await startLoad({ kafka: b.client(), topic: t.input, rate: RATE, total: events });
      let cutAt = 0;
      let healAt = 0;
      let assignedBefore = 0;
      try {
        await sleep(8_000);
        assignedBefore = inside.stderr().split('\n').filter((l) => l.includes('"msg":"partitions assigned"')).length;
        n.cut();
        cutAt = Date.now();
        await sleep(CUT_MS);
        n.heal();
        healAt = Date.now();
        assert.equal(inside.child.exitCode, null, `the partitioned engine exited:\n${inside.stderr().slice(-3000)}`);
        await load.done;
      } finally {
        n.heal();
        await load.stop();
      }
      const report = await audit.finish({ timeoutMs: 120_000 });
      // It rejoined: a new assignment with partitions, logged after the link returned.
      const deadline = Date.now() + 60_000;
      const rejoined = () => inside!.stderr().split('\n').filter((l) => l.includes('"msg":"partitions assigned"')).slice(assignedBefore).some((l) => (JSON.parse(l) as { assigned: number[] }).assigned.length > 0);
      while (!rejoined() && Date.now() < deadline) await sleep(200);
      const stall = longestStall(audit.records.filter((r) => r.topic === t.output), cutAt, healAt + 30_000);
      const logged = (msg: string) => inside!.stderr().split('\n').filter((l) => l.includes(msg)).length;
      const fencing = guarantee === 'exactly-once' ? `, producers fenced by the other engine ${logged('taken over by another producer')}, retaken while still assigned ${logged('fencing again from its committed offset')}` : '';
      console.log(`# ${guarantee}: ${summarize(report)}; longest partition stall after the cut ${stall} ms; inside engine ${inside.child.exitCode === null ? 'alive' : `exited ${inside.child.exitCode}`}, rejoined ${rejoined()}${fencing}`);
      if (report.lost.length) {
        const lostParts = [...new Set(report.lost.map((l) => l.partition))];
        assert.fail(`lost ${report.lost.length} (partitions ${lostParts}): ${sample(report.lost)}\n${await audit.brokerCounts()}\n${await uncommittedView(b, name, t.output, t.input, report.lost)}\nlast assignments: host ${lastAssigned(outside)}, partitioned ${lastAssigned(inside)}\nHOST ENGINE ${await engineDiagnostics(outside, 8000)}\nPARTITIONED ENGINE ${await engineDiagnostics(inside, 12000)}`);
      }
      assert.ok(report.inputs >= events);
      if (guarantee === 'exactly-once') assert.equal(report.duplicates.length, 0, summarize(report));
      // At-least-once: re-deliveries are bounded by what was in flight on the partitioned engine.
      else assert.ok(report.extraCopies <= 2 * 10_000, `extra copies ${report.extraCopies}`);
      assert.equal(inside.child.exitCode, null, `the partitioned engine exited:\n${inside.stderr().slice(-3000)}`);
      assert.ok(rejoined(), `the partitioned engine did not get partitions again:\n${inside.stderr().slice(-3000)}`);
      assert.equal(outside.child.exitCode, null);
    } finally {
      await inside?.kill9();
      await outside?.kill9();
      await audit.stop();
    }
  });
}
