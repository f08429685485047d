// Topics that change under the engine, on a dedicated throwaway broker with
// auto.create.topics.enable=false (the shared broker on 9092 auto-creates topics):
//  - partitions added to the input topic while the engine runs are consumed without a restart;
//  - an engine started before its input topic exists waits for it (a log line every few seconds)
//    and starts consuming once it is created;
//  - a missing output topic is a clear, retried error; once the topic exists every output arrives.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Audit, engineDiagnostics, sample, summarize } from '../kit/audit.js';
import { startEngine, type EngineProcess } from '../kit/engine-process.js';
import { goodEvent } from '../kit/events.js';
import { engineEnv, topicsFor, type FaultTopics } from '../kit/scenario.js';
import { assertServicesReachable, uniqueName } from '../kit/services.js';
import { KafkaBroker } from '../kit/kafka-broker.js';
import { createTopicsReady } from '../../src/kafka/kafka-topics.js';

/** The bound: partitions added while running are read within this long. */
const NEW_PARTITIONS_WITHIN_MS = 30_000;

let broker: KafkaBroker | null = null;
before(async () => {
  await assertServicesReachable(); // Redis (shared) for features
  broker = await KafkaBroker.create({ props: { 'auto.create.topics.enable': 'false' } });
  await broker.start();
});
after(async () => {
  await broker?.destroy();
});

async function createTopics(topics: string[], partitions: number): Promise<void> {
  const admin = broker!.client().admin();
  await admin.connect();
  try {
    await createTopicsReady(admin, topics, partitions);
  } finally {
    await admin.disconnect();
  }
}

/** Sends events `from`..`to`-1, each to partition `partitionOf(i)` explicitly. */
async function produce(topic: string, from: number, to: number, partitionOf?: (i: number) => number): Promise<void> {
  const producer = broker!.client().producer({ allowAutoTopicCreation: false });
  await producer.connect();
  try {
    const messages = [];
    for (let i = from; i < to; i++) messages.push({ ...goodEvent(i), ...(partitionOf ? { partition: partitionOf(i) } : {}) });
    await producer.send({ topic, acks: -1, messages });
  } finally {
    await producer.disconnect();
  }
}

/** Resolves once the engine's stderr matches `re` `times` times; rejects if it exits first or after `timeoutMs`. */
async function waitForLog(engine: EngineProcess, re: RegExp, times: number, timeoutMs: number): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const lines = engine.stderr().split('\n').filter((l) => re.test(l));
    if (lines.length >= times) return lines;
    if (engine.child.exitCode !== null) throw new Error(`engine exited (${engine.child.exitCode}) while waiting for ${re}:\n${engine.stderr().slice(-3000)}`);
    if (Date.now() > deadline) throw new Error(`no ${times}× ${re} in the engine log after ${timeoutMs} ms:\n${engine.stderr().slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function finishClean(audit: Audit, engine: EngineProcess, t: FaultTopics, tag: string, expected: number): Promise<void> {
  const report = await audit.finish({ timeoutMs: 60_000 });
  console.log(`# ${tag}: ${summarize(report)}`);
  if (report.lost.length) assert.fail(`lost ${report.lost.length}: ${sample(report.lost)}\n${await audit.brokerCounts()}\n${await engineDiagnostics(engine)}`);
  assert.equal(report.inputs, expected);
  assert.equal(report.predictions, expected + report.extraCopies, 'every event is a prediction');
  assert.equal(report.dlq, 0);
  assert.equal(report.unattributed, 0);
  assert.equal(engine.child.exitCode, null, `engine exited:\n${engine.stderr().slice(-3000)}`);
  const stopped = await engine.stop();
  assert.equal(stopped.code, 0, engine.stderr().slice(-3000));
}

test('partitions added to the input topic while running are consumed without a restart', { timeout: 150_000 }, async () => {
  const b = broker!;
  const name = uniqueName('topic-grow');
  const t = topicsFor(name);
  await createTopics([t.input], 2); // the audit creates the other topics (4 partitions)
  const audit = await Audit.start({ brokers: b.brokers, inputTopic: t.input, outputTopic: t.output, dlqTopics: [t.validation, t.processing, t.late], createTopics: 4 });
  let engine: EngineProcess | null = null;
  try {
    engine = await startEngine(engineEnv(name, t, { KAFKA_BROKERS: b.brokers }));
    await engine.waitReady();
    await produce(t.input, 0, 400);
    await audit.waitFor((rs) => rs.length >= 400, 30_000, 'outputs of the first 400 events');
    const admin = b.client().admin();
    await admin.connect();
    await admin.createPartitions({ topicPartitions: [{ topic: t.input, count: 4 }] });
    const grownAt = Date.now();
    await admin.disconnect();
    // Explicitly onto the new partitions 2 and 3 (a producer's own metadata would also take a while).
    await produce(t.input, 400, 800, (i) => 2 + (i % 2));
    const fromNew = (rs: { source: { partition: number } }[]) => rs.filter((r) => r.source.partition >= 2).length;
    await audit.waitFor((rs) => fromNew(rs) >= 1, NEW_PARTITIONS_WITHIN_MS, 'a first output from a new partition');
    const firstAt = Date.now();
    await audit.waitFor((rs) => fromNew(rs) >= 400, 30_000, 'every output of the new partitions');
    console.log(`# first output from an added partition ${firstAt - grownAt} ms after the partitions were added`);
    await finishClean(audit, engine, t, 'partitions added', 800);
  } finally {
    await engine?.kill9();
    await audit.stop();
  }
});

test('started before its input topic exists: waits (a log line every few seconds), then consumes once it is created', { timeout: 150_000 }, async () => {
  const b = broker!;
  const name = uniqueName('topic-late');
  const t = topicsFor(name);
  let engine: EngineProcess | null = null;
  let audit: Audit | null = null;
  try {
    engine = await startEngine(engineEnv(name, t, { KAFKA_BROKERS: b.brokers }));
    const waiting = await waitForLog(engine, /input topic does not exist yet; waiting/, 2, 30_000);
    assert.ok(waiting.every((l) => l.includes(t.input)), waiting.join('\n'));
    const createdAt = Date.now();
    audit = await Audit.start({ brokers: b.brokers, inputTopic: t.input, outputTopic: t.output, dlqTopics: [t.validation, t.processing, t.late], createTopics: 4 }); // creates every topic
    await engine.waitReady();
    const readyMs = Date.now() - createdAt;
    await produce(t.input, 0, 500);
    console.log(`# engine ready ${readyMs} ms after its input topic was created`);
    await finishClean(audit, engine, t, 'input topic created late', 500);
  } finally {
    await engine?.kill9();
    await audit?.stop();
  }
});

test('output topic missing (no auto-creation): a clear, retried error; every output arrives once it exists', { timeout: 150_000 }, async () => {
  const b = broker!;
  const name = uniqueName('topic-noout');
  const t = topicsFor(name);
  await createTopics([t.input, t.validation, t.processing, t.late], 4);
  let engine: EngineProcess | null = null;
  let audit: Audit | null = null;
  try {
    // Shorter reconnect backoff than the default: kafkajs's metadata retries for the missing topic
    // end (and the engine logs and re-sends) every few seconds instead of every ~30 s.
    engine = await startEngine(engineEnv(name, t, { KAFKA_BROKERS: b.brokers, RECONNECT_MAX_MS: '1000' }));
    await engine.waitReady();
    await produce(t.input, 0, 500);
    const failed = await waitForLog(engine, /output send failed; retrying/, 2, 60_000);
    assert.match(failed[0], new RegExp(`topic ${t.output} does not exist on the broker`));
    const createdAt = Date.now();
    audit = await Audit.start({ brokers: b.brokers, inputTopic: t.input, outputTopic: t.output, dlqTopics: [t.validation, t.processing, t.late], createTopics: 4 }); // creates the output topic
    await audit.waitFor((rs) => rs.length >= 500, 60_000, 'every output');
    console.log(`# output topic created: all outputs visible ${Date.now() - createdAt} ms later; ${failed.length} send failures logged before`);
    await finishClean(audit, engine, t, 'output topic created late', 500);
  } finally {
    await engine?.kill9();
    await audit?.stop();
  }
});
