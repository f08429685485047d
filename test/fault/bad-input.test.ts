// Fault test 5: a corpus of bad input (every validation class plus 1,000 fuzzed records) mixed
// into good traffic. Every bad record lands in validation_errors with its original bytes, the
// field named, and its source in value and headers; every good event is scored; nothing crashes.
// Also: events behind the watermark by more than the allowed lateness land in late_events_dlq.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Message } from 'kafkajs';
import { Audit, readTopic, summarize, sample, type AuditRecord } from '../kit/audit.js';
import { badInputCorpus, isUtf8, originalBytes } from '../kit/bad-inputs.js';
import { startEngine, type EngineProcess } from '../kit/engine-process.js';
import { goodEvent } from '../kit/events.js';
import { engineEnv, topicsFor } from '../kit/scenario.js';
import { assertServicesReachable, kafka, uniqueName } from '../kit/services.js';

const GOOD = 3_000;
const MAX_MESSAGE_BYTES = 2048;

const engines: EngineProcess[] = [];
before(async () => {
  await assertServicesReachable();
});
after(async () => {
  for (const e of engines) await e.kill9();
});

interface DlqValue {
  original_event: string | null;
  original_encoding: string;
  error_type: string;
  message: string;
  field?: string;
  source: { topic: string; partition: number; offset: number };
  timestamp: number;
  watermark_ms?: number;
}

async function produceAll(topic: string, messages: Message[]): Promise<void> {
  const producer = kafka().producer({ allowAutoTopicCreation: false });
  await producer.connect();
  try {
    for (let i = 0; i < messages.length; i += 250) await producer.send({ topic, acks: -1, messages: messages.slice(i, i + 250) });
  } finally {
    await producer.disconnect();
  }
}

/** Checks a DLQ record's value and headers against the input record it names; returns its parsed value. */
function checkDlqRecord(r: AuditRecord, input: Map<string, { value: Buffer | null }>, errorType: string): DlqValue {
  const v = JSON.parse(r.value.toString('utf8')) as DlqValue;
  const where = `${v.source?.partition}:${v.source?.offset}`;
  assert.equal(v.error_type, errorType, where);
  assert.equal(r.headers['x-error-type'], errorType, where);
  assert.equal(typeof v.timestamp, 'number', where);
  // Source in the value and in the headers, and they agree.
  assert.equal(r.headers['x-source'], `${v.source.topic}/${v.source.partition}/${v.source.offset}`, where);
  const original = input.get(where);
  assert.ok(original, `DLQ record names an input offset that does not exist: ${where}`);
  // The original bytes, exactly; base64 exactly when they are not UTF-8.
  const bytes = originalBytes(v);
  if (original.value === null) assert.equal(bytes, null, where);
  else {
    assert.ok(bytes && bytes.equals(original.value), `${where}: DLQ bytes differ from the input's (${v.original_encoding})`);
    assert.equal(v.original_encoding, isUtf8(original.value) ? 'utf8' : 'base64', where);
  }
  return v;
}

test('bad-input corpus (every validation class + 1,000 fuzzed records) mixed into good traffic: all in validation_errors with original bytes, all good events scored', { timeout: 120_000 }, async () => {
  const name = uniqueName('fault-bad');
  const t = topicsFor(name);
  const audit = await Audit.start({ inputTopic: t.input, outputTopic: t.output, dlqTopics: [t.validation, t.processing, t.late], createTopics: 4 });
  try {
    const engine = await startEngine(engineEnv(name, t, { MAX_MESSAGE_BYTES: String(MAX_MESSAGE_BYTES) }));
    engines.push(engine);
    await engine.waitReady();

    const corpus = badInputCorpus({ maxMessageBytes: MAX_MESSAGE_BYTES, nowMs: Date.now(), fuzz: 1000 });
    assert.ok(corpus.length >= 1050);
    // Interleave: bad records spread evenly through the good traffic.
    const messages: Message[] = [];
    let b = 0;
    for (let g = 0; g < GOOD; g++) {
      const m = goodEvent(g);
      messages.push({ ...m, headers: { 'x-test-kind': 'good' } });
      while (b < corpus.length && b * GOOD <= g * corpus.length) {
        const c = corpus[b];
        messages.push({ key: b % 5 === 0 ? null : `bad-${b}`, value: c.value, headers: { 'x-test-kind': c.kind, 'x-test-field': c.field } });
        b++;
      }
    }
    for (; b < corpus.length; b++) messages.push({ key: `bad-${b}`, value: corpus[b].value, headers: { 'x-test-kind': corpus[b].kind, 'x-test-field': corpus[b].field } });
    await produceAll(t.input, messages);

    const report = await audit.finish({ timeoutMs: 60_000 });
    console.log(`# bad input: ${summarize(report)}`);
    assert.equal(report.inputs, GOOD + corpus.length);
    assert.equal(report.lost.length, 0, `lost: ${sample(report.lost)}`);
    assert.equal(report.extraCopies, 0);
    assert.equal(report.unattributed, 0);

    const input = await readTopic(t.input);
    const bySource = new Map<string, AuditRecord[]>();
    for (const r of audit.records) {
      const k = `${r.source.partition}:${r.source.offset}`;
      (bySource.get(k) ?? bySource.set(k, []).get(k)!).push(r);
    }
    const perKind = new Map<string, number>();
    for (const [k, rec] of input) {
      const kind = rec.headers['x-test-kind'];
      const outs = bySource.get(k) ?? [];
      assert.equal(outs.length, 1, `${k} (${kind}) has ${outs.length} records`);
      const r = outs[0];
      if (kind === 'good') {
        assert.equal(r.topic, t.output, `good event ${k} went to ${r.topic}`);
        const p = JSON.parse(r.value.toString('utf8')) as { user_id: string; prediction: number; fallback: boolean };
        assert.equal(p.user_id, rec.key?.toString('utf8'));
        assert.equal(p.fallback, false);
        assert.ok(p.prediction >= 0 && p.prediction <= 1);
        continue;
      }
      perKind.set(kind, (perKind.get(kind) ?? 0) + 1);
      assert.equal(r.topic, t.validation, `bad record ${k} (${kind}) went to ${r.topic}`);
      const v = checkDlqRecord(r, input, 'VALIDATION_ERROR');
      const field = rec.headers['x-test-field'];
      assert.equal(v.field, field, `${k} (${kind}): field ${v.field}, expected ${field}; message: ${v.message}`);
      assert.ok(v.message.includes(field), `${k} (${kind}): message does not name ${field}: ${v.message}`);
    }
    console.log(`# bad input classes: ${JSON.stringify(Object.fromEntries(perKind))}`);
    assert.equal([...perKind.values()].reduce((a, n) => a + n, 0), corpus.length);

    assert.equal(await engine.metric('scorestream_worker_restarts_total'), 0);
    const stopped = await engine.stop();
    assert.equal(stopped.code, 0, engine.stderr().slice(-2000));
  } finally {
    await audit.stop();
  }
});

test('events older than watermark - allowed lateness land in late_events_dlq; slightly out-of-order ones are scored', { timeout: 90_000 }, async () => {
  const name = uniqueName('fault-late');
  const t = topicsFor(name);
  const audit = await Audit.start({ inputTopic: t.input, outputTopic: t.output, dlqTopics: [t.validation, t.processing, t.late], createTopics: 4 });
  try {
    // Watermark = max event time - 1 s; late when older than watermark - 1 s (i.e. > 2 s behind).
    const engine = await startEngine(engineEnv(name, t, { OUT_OF_ORDERNESS_MS: '1000', ALLOWED_LATENESS_MS: '1000' }));
    engines.push(engine);
    await engine.waitReady();
    const now = Date.now();
    const ev = (user: string, ts: number, kind: string): Message => ({
      key: user,
      value: JSON.stringify({ user_id: user, product_id: 'p1', category: 'books', event_type: 'view', timestamp_ms: ts }),
      headers: { 'x-test-kind': kind },
    });
    const messages: Message[] = [];
    for (let p = 0; p < 4; p++) {
      // Per partition: on-time events set the watermark, then late and slightly-out-of-order ones.
      for (let i = 0; i < 20; i++) messages.push({ ...ev(`late-u${p}-${i % 4}`, now - 20 + i, 'on-time'), partition: p });
      messages.push({ ...ev(`late-u${p}-0`, now - 60_000, 'late'), partition: p });
      messages.push({ ...ev(`late-u${p}-1`, now - 1500, 'on-time'), partition: p }); // behind, but within 2 s
      messages.push({ ...ev(`late-u${p}-2`, now - 2500, 'late'), partition: p });
      messages.push({ ...ev(`late-u${p}-3`, now + 5, 'on-time'), partition: p });
    }
    await produceAll(t.input, messages);
    const report = await audit.finish({ timeoutMs: 30_000 });
    console.log(`# late events: ${summarize(report)}`);
    assert.equal(report.lost.length, 0, `lost: ${sample(report.lost)}`);
    assert.equal(report.extraCopies, 0);

    const input = await readTopic(t.input);
    let late = 0;
    for (const [k, rec] of input) {
      const outs = audit.records.filter((r) => `${r.source.partition}:${r.source.offset}` === k);
      assert.equal(outs.length, 1, k);
      if (rec.headers['x-test-kind'] === 'late') {
        late++;
        assert.equal(outs[0].topic, t.late, `late event ${k} went to ${outs[0].topic}`);
        const v = checkDlqRecord(outs[0], input, 'LATE_EVENT');
        assert.equal(v.field, 'timestamp_ms');
        assert.equal(typeof v.watermark_ms, 'number');
        assert.ok(JSON.parse(rec.value!.toString()).timestamp_ms < v.watermark_ms! - 1000, `${k}: not behind watermark - lateness`);
      } else {
        assert.equal(outs[0].topic, t.output, `on-time event ${k} went to ${outs[0].topic}`);
      }
    }
    assert.equal(late, 8);
    assert.equal((await engine.stop()).code, 0);
  } finally {
    await audit.stop();
  }
});
