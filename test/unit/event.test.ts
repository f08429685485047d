// parseEvent: every class of invalid input is a ValidationError naming the right field.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_VALIDATION_LIMITS, parseEvent } from '../../src/ingest/event.js';
import { ValidationError } from '../../src/shared/errors.js';

const T = { timeout: 10_000 };
const NOW = Date.UTC(2026, 5, 1, 12, 0, 0);
const VALID = { user_id: 'u1', product_id: 'p9', category: 'books', event_type: 'view', timestamp_ms: NOW - 1000 };

const json = (o: unknown): Buffer => Buffer.from(JSON.stringify(o));
const withField = (field: string, value: unknown): Buffer => json({ ...VALID, [field]: value });
const without = (field: string): Buffer => {
  const o: Record<string, unknown> = { ...VALID };
  delete o[field];
  return json(o);
};

function rejects(value: Buffer | null, field: string, what: string, re?: RegExp): void {
  assert.throws(
    () => parseEvent(value, NOW),
    (err: unknown) => {
      assert.ok(err instanceof ValidationError, `${what}: expected ValidationError, got ${String(err)}`);
      assert.equal(err.field, field, `${what}: field (message: ${err.message})`);
      assert.ok(err.message.startsWith(`${field}: `), `${what}: message ${err.message}`);
      if (re) assert.match(err.message, re, what);
      return true;
    },
    what,
  );
}

describe('parseEvent accepts', () => {
  test('a valid event of each type', T, () => {
    for (const event_type of ['view', 'add_to_cart', 'purchase']) {
      assert.deepEqual(parseEvent(withField('event_type', event_type), NOW), { ...VALID, event_type });
    }
  });

  test('extra fields are ignored; an empty product_id is allowed', T, () => {
    assert.deepEqual(parseEvent(json({ ...VALID, extra: [1, 2], product_id: '' }), NOW), { ...VALID, product_id: '' });
  });

  test('non-ASCII UTF-8 text, and a timestamp just inside the future skew', T, () => {
    const ts = NOW + DEFAULT_VALIDATION_LIMITS.maxFutureSkewMs;
    const e = parseEvent(json({ ...VALID, user_id: 'ユーザー', timestamp_ms: ts }), NOW);
    assert.equal(e.user_id, 'ユーザー');
    assert.equal(e.timestamp_ms, ts);
  });
});

describe('parseEvent rejects the record as a whole (field "value")', () => {
  test('empty or null value', T, () => {
    rejects(Buffer.alloc(0), 'value', 'empty', /empty/);
    rejects(null, 'value', 'null', /empty/);
  });

  test('oversized', T, () => {
    const big = json({ ...VALID, category: 'x'.repeat(DEFAULT_VALIDATION_LIMITS.maxMessageBytes) });
    rejects(big, 'value', 'oversized', /exceeds/);
    assert.throws(() => parseEvent(json(VALID), NOW, { ...DEFAULT_VALIDATION_LIMITS, maxMessageBytes: 10 }), { field: 'value' });
  });

  test('invalid UTF-8', T, () => {
    rejects(Buffer.from([0xff, 0xfe]), 'value', 'bytes ff fe', /UTF-8/);
    const broken = Buffer.concat([Buffer.from('{"user_id":"'), Buffer.from([0xc3]), Buffer.from('"}')]);
    rejects(broken, 'value', 'truncated multi-byte sequence', /UTF-8/);
  });

  test('not JSON', T, () => {
    rejects(Buffer.from('not json'), 'value', 'plain text', /not JSON/);
    rejects(Buffer.from('{"user_id":'), 'value', 'truncated JSON', /not JSON/);
  });

  test('JSON that is not an object', T, () => {
    rejects(Buffer.from('[1,2]'), 'value', 'array', /array/);
    rejects(Buffer.from('null'), 'value', 'null', /null/);
    rejects(Buffer.from('42'), 'value', 'number', /number/);
    rejects(Buffer.from('"str"'), 'value', 'string', /string/);
  });
});

describe('parseEvent names the bad field', () => {
  const fields = ['user_id', 'product_id', 'category', 'event_type', 'timestamp_ms'];

  test('each field missing', T, () => {
    for (const f of fields) rejects(without(f), f, `missing ${f}`, /missing/);
  });

  test('each field mistyped', T, () => {
    for (const f of ['user_id', 'product_id', 'category']) {
      rejects(withField(f, 42), f, `${f} number`, /string/);
      rejects(withField(f, null), f, `${f} null`, /null/);
      rejects(withField(f, { a: 1 }), f, `${f} object`, /string/);
    }
    rejects(withField('event_type', 3), 'event_type', 'event_type number');
    rejects(withField('event_type', null), 'event_type', 'event_type null');
    rejects(withField('timestamp_ms', null), 'timestamp_ms', 'timestamp_ms null');
    rejects(withField('timestamp_ms', true), 'timestamp_ms', 'timestamp_ms boolean');
  });

  test('empty or whitespace user_id and category', T, () => {
    for (const f of ['user_id', 'category']) {
      rejects(withField(f, ''), f, `empty ${f}`, /empty/);
      rejects(withField(f, '   \t'), f, `whitespace ${f}`, /empty/);
    }
  });

  test('over-long string fields', T, () => {
    rejects(withField('user_id', 'u'.repeat(DEFAULT_VALIDATION_LIMITS.maxFieldLength + 1)), 'user_id', 'long user_id', /longer/);
  });

  test('unknown event_type', T, () => {
    rejects(withField('event_type', 'click'), 'event_type', 'click', /view\|add_to_cart\|purchase/);
    rejects(withField('event_type', 'VIEW'), 'event_type', 'upper-case VIEW');
  });

  test('float, string, absurdly old and far-future timestamps', T, () => {
    rejects(withField('timestamp_ms', NOW + 0.5), 'timestamp_ms', 'float', /integer/);
    rejects(withField('timestamp_ms', String(NOW)), 'timestamp_ms', 'string', /integer/);
    rejects(withField('timestamp_ms', 2 ** 60), 'timestamp_ms', 'unsafe integer', /integer/);
    rejects(withField('timestamp_ms', 86_400_000), 'timestamp_ms', '1970-01-02', /before 2000/);
    rejects(withField('timestamp_ms', -1), 'timestamp_ms', 'negative');
    rejects(withField('timestamp_ms', NOW + DEFAULT_VALIDATION_LIMITS.maxFutureSkewMs + 1), 'timestamp_ms', 'future', /future/);
    rejects(withField('timestamp_ms', Date.UTC(2100, 0, 1)), 'timestamp_ms', 'year 2100', /future/);
  });
});
