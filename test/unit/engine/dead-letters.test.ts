// Bad and late input, in-process: every invalid record becomes a validation_errors record naming
// the field, every late event a late_events_dlq record with the watermark; the good ones are
// scored; each input offset gets exactly one output and the commit covers them all.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { eventValue } from '../../kit/events.js';
import { startInProcessEngine, type InProcessEngine } from '../../kit/in-process-engine.js';
import { sourceOf } from '../../kit/recording-sink.js';
import { until } from '../../kit/wait.js';

let e: InProcessEngine | null = null;
after(() => e?.stop());

interface DeadLetter {
  original_event: string | null;
  original_encoding: string;
  error_type: string;
  field?: string;
  watermark_ms?: number;
  source: { topic: string; partition: number; offset: number };
}

test('invalid records to validation_errors (field named), late events to late_events_dlq, the rest scored', { timeout: 60_000 }, async () => {
  e = await startInProcessEngine({
    env: { WORKERS: '2', OUT_OF_ORDERNESS_MS: '0', ALLOWED_LATENESS_MS: '1000', MAX_MESSAGE_BYTES: '1024', OUTPUT_TOPIC: 'out', DLQ_VALIDATION_TOPIC: 'dlq-v', DLQ_LATE_TOPIC: 'dlq-l', DLQ_PROCESSING_TOPIC: 'dlq-p' },
  });
  const t = Date.now() - 600_000;
  const good = (i: number, ts: number) => eventValue({ user: `u${i % 5}`, product: `p${i}`, ts });
  const bytes = Buffer.from([0xff, 0xfe, 0x7b]);
  // offset → what it is
  const script: { value: string | Buffer | null; kind: 'good' | 'invalid' | 'late'; field?: string }[] = [
    { value: good(0, t), kind: 'good' },
    { value: '{not json', kind: 'invalid', field: 'value' },
    { value: good(1, t + 10), kind: 'good' },
    { value: JSON.stringify({ user_id: 'u1', product_id: 'p1', category: 'books', event_type: 'click', timestamp_ms: t }), kind: 'invalid', field: 'event_type' },
    { value: JSON.stringify({ product_id: 'p1', category: 'books', event_type: 'view', timestamp_ms: t }), kind: 'invalid', field: 'user_id' },
    { value: good(2, t + 5_000), kind: 'good' },
    { value: good(3, t + 5_000 - 4_000), kind: 'late' }, // 4 s behind the watermark, 1 s allowed
    { value: bytes, kind: 'invalid', field: 'value' },
    { value: null, kind: 'invalid', field: 'value' },
    { value: JSON.stringify({ user_id: 'u1', product_id: 'x'.repeat(2000), category: 'books', event_type: 'view', timestamp_ms: t }), kind: 'invalid' },
    { value: good(4, t + 5_000 - 500), kind: 'good' }, // behind, but within the allowed lateness
    { value: good(5, t + 6_000), kind: 'good' },
  ];
  e.source.push(0, script.map((s) => s.value));
  await until(() => e!.source.committed(0) === script.length, 30_000, `all ${script.length} committed`);

  const bySource = new Map<number, { topic: string; value: string }[]>();
  for (const r of e.sink.acked) (bySource.get(sourceOf(r).offset) ?? bySource.set(sourceOf(r).offset, []).get(sourceOf(r).offset)!).push({ topic: r.topic, value: r.value.toString() });
  script.forEach((s, offset) => {
    const outs = bySource.get(offset) ?? [];
    assert.equal(outs.length, 1, `offset ${offset} (${s.kind}) has exactly one output`);
    const [out] = outs;
    if (s.kind === 'good') {
      assert.equal(out.topic, 'out', `offset ${offset}`);
      assert.equal(JSON.parse(out.value).fallback, false);
      return;
    }
    const d = JSON.parse(out.value) as DeadLetter;
    assert.equal(out.topic, s.kind === 'late' ? 'dlq-l' : 'dlq-v', `offset ${offset}`);
    assert.equal(d.error_type, s.kind === 'late' ? 'LATE_EVENT' : 'VALIDATION_ERROR');
    assert.deepEqual(d.source, { topic: 'in', partition: 0, offset });
    if (s.field) assert.equal(d.field, s.field, `offset ${offset} names its field`);
    if (s.kind === 'late') {
      assert.equal(d.field, 'timestamp_ms');
      assert.equal(d.watermark_ms, t + 5_000, 'the watermark when it arrived (latest event time, no out-of-orderness)');
    }
    // The original bytes survive.
    if (s.value === null) assert.equal(d.original_event, null);
    else if (Buffer.isBuffer(s.value)) assert.deepEqual(Buffer.from(d.original_event!, 'base64'), s.value);
    else assert.equal(d.original_event, s.value);
  });
  assert.equal(await e.metric('scorestream_dlq_records_total', { topic: 'dlq-v' }), script.filter((s) => s.kind === 'invalid').length);
  assert.equal(await e.metric('scorestream_dlq_records_total', { topic: 'dlq-l' }), 1);
  assert.equal(await e.metric('scorestream_predictions_total'), script.filter((s) => s.kind === 'good').length);
});
