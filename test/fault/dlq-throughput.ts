// Not a test (performance claims are not asserted on a shared machine): measures whether a 10%
// share of bad events cuts good-event throughput. Pre-loads two topics, the same good events with
// and without bad ones mixed in (1 in 10 records bad: seeded fuzz from the bad-input corpus), lets
// a fresh engine drain each from the beginning, and compares good events per second (from the
// engine's first to its last output record, by CreateTime). Runs alternate to spread out noise.
//
//   node --import tsx test/fault/dlq-throughput.ts [goodEvents=60000] [rounds=2]
import type { Message } from 'kafkajs';
import { Audit } from '../kit/audit.js';
import { fuzzCorpus } from '../kit/bad-inputs.js';
import { startEngine } from '../kit/engine-process.js';
import { goodEvent } from '../kit/events.js';
import { KAFKA_BROKERS, assertServicesReachable, kafka, uniqueName } from '../kit/services.js';

const GOOD = Number(process.argv[2] ?? 60_000);
const ROUNDS = Number(process.argv[3] ?? 2);
const BAD = Math.round(GOOD / 9); // 10% of all records

async function preload(topic: string, withBad: boolean): Promise<number> {
  const bad = withBad ? fuzzCorpus({ maxMessageBytes: 65536, nowMs: Date.now(), fuzz: BAD, seed: 7 }) : [];
  const producer = kafka().producer({ allowAutoTopicCreation: true });
  await producer.connect();
  let total = 0;
  let b = 0;
  let batch: Message[] = [];
  for (let g = 0; g < GOOD; g++) {
    batch.push(goodEvent(g, 5000));
    // Spread the bad records evenly: one after every 9th good event.
    if (withBad && g % 9 === 8 && b < bad.length) batch.push({ key: `bad-${b}`, value: bad[b++].value });
    if (batch.length >= 1000) {
      await producer.send({ topic, acks: -1, messages: batch });
      total += batch.length;
      batch = [];
    }
  }
  if (batch.length) await producer.send({ topic, acks: -1, messages: batch });
  total += batch.length;
  await producer.disconnect();
  return total;
}

async function drain(name: string, withBad: boolean): Promise<{ goodPerSec: number; seconds: number; cpu: number; dlq: number }> {
  const t = { input: `${name}-in`, output: `${name}-out`, v: `${name}-dlq-v`, p: `${name}-dlq-p`, l: `${name}-dlq-l` };
  const audit = await Audit.start({ inputTopic: t.input, outputTopic: t.output, dlqTopics: [t.v, t.p, t.l], createTopics: 4 });
  const total = await preload(t.input, withBad);
  const engine = await startEngine({
    KAFKA_BROKERS,
    INPUT_TOPIC: t.input,
    OUTPUT_TOPIC: t.output,
    DLQ_VALIDATION_TOPIC: t.v,
    DLQ_PROCESSING_TOPIC: t.p,
    DLQ_LATE_TOPIC: t.l,
    KAFKA_GROUP_ID: name,
    REDIS_KEY_PREFIX: `${name}:`,
    WORKERS: '2',
    LOG_LEVEL: 'warn',
  });
  // Startup (tsx, model load) is not part of the comparison: CPU is counted from ready on.
  await engine.waitReady();
  const cpu0 = await engine.metric('scorestream_process_cpu_seconds_total');
  await audit.waitFor((rs) => rs.length >= total, 300_000, 'all records');
  // CPU seconds of the whole engine process (main thread + workers): less at the mercy of other
  // load on a shared machine than wall time.
  const cpu = (await engine.metric('scorestream_process_cpu_seconds_total')) - cpu0;
  await engine.stop();
  await audit.stop();
  const ts = audit.records.map((r) => r.timestamp);
  const seconds = (Math.max(...ts) - Math.min(...ts)) / 1000;
  return { goodPerSec: GOOD / seconds, seconds, cpu, dlq: audit.records.length - audit.of(t.output).length };
}

await assertServicesReachable();
const results: Record<string, number[]> = { clean: [], bad10: [] };
const cpuResults: Record<string, number[]> = { clean: [], bad10: [] };
for (let r = 0; r < ROUNDS; r++) {
  for (const withBad of r % 2 === 0 ? [false, true] : [true, false]) {
    const res = await drain(uniqueName(`dlq-tp-${withBad ? 'bad' : 'clean'}`), withBad);
    (withBad ? results.bad10 : results.clean).push(res.goodPerSec);
    if (res.cpu > 0) (withBad ? cpuResults.bad10 : cpuResults.clean).push(GOOD / res.cpu);
    console.log(`${withBad ? '10% bad' : '0% bad '}: ${GOOD} good events in ${res.seconds.toFixed(2)} s = ${Math.round(res.goodPerSec)} good/s; engine CPU ${res.cpu.toFixed(2)} s = ${Math.round(GOOD / res.cpu)} good/CPU-s (DLQ records ${res.dlq})`);
  }
}
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const clean = median(results.clean);
const bad = median(results.bad10);
const range = (xs: number[]) => `${Math.round(Math.min(...xs))}-${Math.round(Math.max(...xs))}`;
console.log(`median good-event throughput over ${ROUNDS} rounds: 0% bad ${Math.round(clean)}/s (range ${range(results.clean)}), 10% bad ${Math.round(bad)}/s (range ${range(results.bad10)}): ${(((bad - clean) / clean) * 100).toFixed(1)}%`);
const cClean = median(cpuResults.clean);
const cBad = median(cpuResults.bad10);
console.log(`median good events per engine CPU second: 0% bad ${Math.round(cClean)} (range ${range(cpuResults.clean)}), 10% bad ${Math.round(cBad)} (range ${range(cpuResults.bad10)}): ${(((cBad - cClean) / cClean) * 100).toFixed(1)}%`);
process.exit(0);
