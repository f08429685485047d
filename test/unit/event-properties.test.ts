// Property-based tests of parseEvent (fast-check) over random bytes, random JSON shapes and
// near-valid events: it never throws anything but ValidationError, and it accepts exactly what an
// independent statement of the event contract (the oracle below) accepts, returning those fields.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { DEFAULT_VALIDATION_LIMITS, parseEvent, type ValidationLimits } from '../../src/ingest/event.js';
import { ValidationError } from '../../src/shared/errors.js';

const T = { timeout: 60_000 };
const NOW = Date.UTC(2026, 5, 1, 12, 0, 0);
const RUNS = Number(process.env.PROPERTY_RUNS ?? 3000);
/** Small limits too, so generated values cross the size and length bounds often. */
const SMALL: ValidationLimits = { maxMessageBytes: 160, maxFieldLength: 12, minTimestampMs: Date.UTC(2000, 0, 1), maxFutureSkewMs: 24 * 3600 * 1000 };

type Verdict = { ok: true; event: Record<string, unknown> } | { ok: false };

/**
 * The event contract, written independently of src/ingest/event.ts: a UTF-8 JSON object of at
 * most maxMessageBytes bytes with string user_id and category (not blank), string product_id
 * (may be empty), each at most maxFieldLength UTF-16 units; event_type one of three; and an
 * integer timestamp_ms within [minTimestampMs, now + maxFutureSkewMs].
 */
function oracle(bytes: Uint8Array | null, now: number, l: ValidationLimits): Verdict {
  if (!bytes || bytes.length === 0 || bytes.length > l.maxMessageBytes) return { ok: false };
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    return { ok: false };
  }
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return { ok: false };
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return { ok: false };
  const o = v as Record<string, unknown>;
  const str = (k: string, blankOk: boolean) => typeof o[k] === 'string' && (o[k] as string).length <= l.maxFieldLength && (blankOk || (o[k] as string).trim() !== '');
  if (!str('user_id', false) || !str('product_id', true) || !str('category', false)) return { ok: false };
  if (!['view', 'add_to_cart', 'purchase'].includes(o.event_type as string)) return { ok: false };
  const ts = o.timestamp_ms;
  if (typeof ts !== 'number' || !Number.isInteger(ts) || Math.abs(ts) > Number.MAX_SAFE_INTEGER) return { ok: false };
  if (ts < l.minTimestampMs || ts > now + l.maxFutureSkewMs) return { ok: false };
  return { ok: true, event: { user_id: o.user_id, product_id: o.product_id, category: o.category, event_type: o.event_type, timestamp_ms: ts } };
}

/** parseEvent agrees with the oracle, and fails only with ValidationError (stack limit restored). */
function check(bytes: Uint8Array | null, limits: ValidationLimits = DEFAULT_VALIDATION_LIMITS): void {
  const buf = bytes === null ? null : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const expected = oracle(bytes, NOW, limits);
  const stackLimit = Error.stackTraceLimit;
  let got: Verdict;
  try {
    got = { ok: true, event: { ...parseEvent(buf, NOW, limits) } };
  } catch (err) {
    if (!(err instanceof ValidationError)) throw new Error(`threw ${String(err)} (${(err as Error)?.name}), not a ValidationError`, { cause: err });
    assert.ok(err.field.length > 0 && err.message.startsWith(`${err.field}: `), err.message);
    got = { ok: false };
  }
  assert.equal(Error.stackTraceLimit, stackLimit, 'Error.stackTraceLimit not restored');
  assert.deepEqual(got, expected, `input ${JSON.stringify(buf?.toString('latin1'))}`);
}

const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);

// Field values: right and wrong types, blanks, unicode, long strings, numbers at the edges.
const anyString = fc.oneof(fc.string({ maxLength: 20 }), fc.string({ unit: 'grapheme', maxLength: 8 }), fc.string({ unit: 'binary', maxLength: 8 }), fc.constantFrom('', ' ', '\t\n', '\u00a0', '\u2028', 'x'.repeat(300), '\ud800', 'u1'));
const eventType = fc.oneof(fc.constantFrom('view', 'add_to_cart', 'purchase', 'VIEW', 'view ', ''), anyString);
const timestamp = fc.oneof(
  fc.integer({ min: SMALL.minTimestampMs - 5, max: NOW + SMALL.maxFutureSkewMs + 5 }),
  fc.constantFrom(SMALL.minTimestampMs, SMALL.minTimestampMs - 1, NOW + SMALL.maxFutureSkewMs, NOW + SMALL.maxFutureSkewMs + 1, 0, -1, -0, Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER + 1, 2 ** 53 + 2, 1.5e12 + 0.5),
  fc.double(),
  fc.bigInt().map(String),
);
const anyValue = fc.oneof(anyString, fc.double(), fc.integer(), fc.boolean(), fc.constant(null), fc.array(fc.integer(), { maxLength: 3 }), fc.dictionary(fc.string({ maxLength: 3 }), fc.integer(), { maxKeys: 2 }));
/** Mostly a good value (so valid events come up often), sometimes an edge of the right type, a wrong type, or missing. */
const maybe = <V>(good: fc.Arbitrary<V>, edge: fc.Arbitrary<unknown>) =>
  fc.option(fc.oneof({ arbitrary: good, weight: 5 }, { arbitrary: edge, weight: 2 }, { arbitrary: anyValue, weight: 1 }), { nil: undefined, freq: 15 });
const goodId = fc.string({ minLength: 1, maxLength: 10 });

/** An object shaped like an event: each field present or not, of the right kind or not, plus extra keys. */
const eventLike = fc
  .record({
    user_id: maybe(goodId, anyString),
    product_id: maybe(goodId, anyString),
    category: maybe(goodId, anyString),
    event_type: maybe(fc.constantFrom('view', 'add_to_cart', 'purchase'), eventType),
    timestamp_ms: maybe(fc.integer({ min: NOW - 86_400_000, max: NOW }), timestamp),
    extra: fc.dictionary(fc.oneof(fc.string({ maxLength: 6 }), fc.constantFrom('__proto__', 'constructor', 'user_id')), anyValue, { maxKeys: 3 }),
  })
  .map(({ extra, ...fields }) => {
    const o: Record<string, unknown> = { ...extra };
    for (const [k, v] of Object.entries(fields)) if (v !== undefined) o[k] = v;
    return o;
  });

/** JSON text of an event-like object, sometimes with its numbers written the way other producers write them. */
const eventJson = fc.tuple(eventLike, fc.constantFrom('plain', 'exp', 'frac', 'spaces', 'array', 'bom')).map(([o, style]) => {
  let s = JSON.stringify(o);
  if (typeof o.timestamp_ms === 'number' && Number.isFinite(o.timestamp_ms)) {
    const n = String(o.timestamp_ms);
    if (style === 'exp') s = s.replace(`"timestamp_ms":${n}`, `"timestamp_ms":${o.timestamp_ms.toExponential()}`);
    if (style === 'frac') s = s.replace(`"timestamp_ms":${n}`, `"timestamp_ms":${n}.0`);
  }
  if (style === 'spaces') s = ` \n${s}\t `;
  if (style === 'array') s = `[${s}]`;
  if (style === 'bom') s = `\ufeff${s}`;
  return s;
});

const validEvent = fc.record({
  user_id: fc.string({ minLength: 1, maxLength: 10 }).filter((s) => s.trim() !== ''),
  product_id: fc.string({ maxLength: 10 }),
  category: fc.string({ minLength: 1, maxLength: 10 }).filter((s) => s.trim() !== ''),
  event_type: fc.constantFrom('view', 'add_to_cart', 'purchase'),
  timestamp_ms: fc.integer({ min: NOW - 86_400_000, max: NOW }),
});

describe('parseEvent properties', () => {
  test('random bytes: only ValidationError, and agrees with the oracle', T, () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), (b) => check(b)), { numRuns: RUNS });
    fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), (b) => check(b, SMALL)), { numRuns: RUNS });
    check(null);
  });

  test('random JSON values (any shape): only ValidationError, and agrees with the oracle', T, () => {
    fc.assert(fc.property(fc.jsonValue({ maxDepth: 3 }), (v) => check(utf8(JSON.stringify(v) ?? 'null'))), { numRuns: RUNS });
  });

  test('event-shaped objects with random fields: accepted exactly when valid, with the same fields', T, () => {
    fc.assert(fc.property(eventJson, (s) => check(utf8(s))), { numRuns: RUNS });
    fc.assert(fc.property(eventJson, (s) => check(utf8(s), SMALL)), { numRuns: RUNS });
  });

  test('valid events are accepted; one corrupted byte or a cut anywhere never passes invalid input', T, () => {
    fc.assert(fc.property(validEvent, (e) => check(utf8(JSON.stringify(e)))), { numRuns: RUNS });
    fc.assert(
      fc.property(validEvent, fc.nat(), fc.integer({ min: 0, max: 255 }), fc.boolean(), (e, at, byte, cut) => {
        const b = utf8(JSON.stringify(e));
        const i = at % b.length;
        check(cut ? b.slice(0, i) : Uint8Array.from(b, (x, j) => (j === i ? byte : x)));
      }),
      { numRuns: RUNS },
    );
  });

  test('the oracle is not vacuous: it accepts and rejects in every generator', T, () => {
    // Guards the properties above against an oracle (or generator) that rejects everything.
    const rate = (arb: fc.Arbitrary<string>, l: ValidationLimits) => {
      const xs = fc.sample(arb, 2000);
      return xs.filter((s) => oracle(utf8(s), NOW, l).ok).length / xs.length;
    };
    const r = rate(eventJson, DEFAULT_VALIDATION_LIMITS);
    assert.ok(r > 0.005 && r < 0.9, `event-shaped acceptance rate ${r}`);
    assert.equal(rate(validEvent.map((e) => JSON.stringify(e)), DEFAULT_VALIDATION_LIMITS), 1);
  });
});
