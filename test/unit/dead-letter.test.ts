// deadLetter: the original bytes survive exactly, and the source is in both value and headers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { deadLetter } from '../../src/output/dead-letter.js';
import type { RawRecord } from '../../src/source/source.js';

const T = { timeout: 10_000 };
const NOW = 1_780_000_000_000;

const rec = (value: Buffer | null, key: Buffer | null = Buffer.from('u1')): RawRecord => ({ topic: 'user_events', partition: 3, offset: 1234, key, value });
const body = (v: string | Buffer): Record<string, unknown> => JSON.parse(v.toString());

test('valid UTF-8 is kept as text, with every field and header', T, () => {
  const original = '{"user_id":"ü1","event_type":"click"}';
  const out = deadLetter('validation_errors', rec(Buffer.from(original)), { type: 'VALIDATION_ERROR', message: 'event_type: bad', field: 'event_type' }, NOW);
  assert.equal(out.topic, 'validation_errors');
  assert.deepEqual(out.key, Buffer.from('u1'));
  assert.deepEqual(body(out.value), {
    original_event: original,
    original_encoding: 'utf8',
    error_type: 'VALIDATION_ERROR',
    message: 'event_type: bad',
    field: 'event_type',
    source: { topic: 'user_events', partition: 3, offset: 1234 },
    timestamp: NOW,
  });
  assert.deepEqual(out.headers, {
    'x-error-type': 'VALIDATION_ERROR',
    'x-source': 'user_events/3/1234',
  });
});

test('invalid UTF-8 is kept as base64 that decodes to the exact original bytes', T, () => {
  const bytes = Buffer.from([0xff, 0xfe, 0x00, 0x7b, 0xc3, 0x28, 0x80, 0x0a]);
  const out = deadLetter('validation_errors', rec(bytes), { type: 'VALIDATION_ERROR', message: 'value: not valid UTF-8', field: 'value' }, NOW);
  const b = body(out.value);
  assert.equal(b.original_encoding, 'base64');
  assert.deepEqual(Buffer.from(b.original_event as string, 'base64'), bytes);
  assert.equal(b.field, 'value');
});

test('a processing error carries its stack trace and attempts', T, () => {
  const out = deadLetter('processing_errors', rec(Buffer.from('{}'), null), { type: 'PROCESSING_ERROR', message: 'redis down', stack: 'Error: redis down\n    at x', attempts: 3 }, NOW);
  const b = body(out.value);
  assert.equal(out.key, null);
  assert.equal(b.error_type, 'PROCESSING_ERROR');
  assert.equal(b.stack_trace, 'Error: redis down\n    at x');
  assert.equal(b.attempts, 3);
  assert.equal('field' in b, false, 'no field for a processing error');
  assert.equal(out.headers!['x-error-type'], 'PROCESSING_ERROR');
  assert.equal(out.headers!['x-source'], 'user_events/3/1234');
});

test('a late event carries the watermark it was late against', T, () => {
  const out = deadLetter('late_events_dlq', rec(Buffer.from('{"a":1}')), { type: 'LATE_EVENT', message: 'late', watermarkMs: NOW - 70_000 }, NOW);
  const b = body(out.value);
  assert.equal(b.error_type, 'LATE_EVENT');
  assert.equal(b.watermark_ms, NOW - 70_000);
  assert.equal(b.original_event, '{"a":1}');
  assert.equal(out.headers!['x-source'], 'user_events/3/1234');
});

test('an empty (null) value is recorded as null', T, () => {
  const out = deadLetter('validation_errors', rec(null), { type: 'VALIDATION_ERROR', message: 'value: empty record value', field: 'value' }, NOW);
  const b = body(out.value);
  assert.equal(b.original_event, null);
  assert.equal(b.original_encoding, 'utf8');
});
