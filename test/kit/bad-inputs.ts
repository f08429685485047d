// The bad-input corpus: one or more records of every class of invalid input the engine must
// send to validation_errors, plus seeded fuzz. Every fuzzed record is invalid by construction
// (not by asking the engine's validator), and each record says which field the engine's
// message must name ('value' for the record as a whole).
import { mulberry32 } from '../../src/source/clickstream.js';

export interface BadInput {
  /** Validation class, e.g. 'not-json', 'missing-field', 'fuzz-truncated'. */
  kind: string;
  /** null = a tombstone (no value at all). */
  value: Buffer | null;
  /** The field the DLQ record must name. */
  field: string;
}

export interface CorpusOptions {
  /** The engine's MAX_MESSAGE_BYTES for the run. */
  maxMessageBytes: number;
  /** Wall clock of the run (for "absurd" timestamps relative to now). */
  nowMs: number;
  /** Fuzzed records (default 1,000). */
  fuzz?: number;
  seed?: number;
}

const FIELDS = ['user_id', 'product_id', 'category', 'event_type', 'timestamp_ms'] as const;

function baseEvent(nowMs: number, i = 0): Record<string, unknown> {
  return { user_id: `bad-u${i % 97}`, product_id: `p${i % 31}`, category: 'books', event_type: 'view', timestamp_ms: nowMs };
}

const json = (o: unknown): Buffer => Buffer.from(JSON.stringify(o), 'utf8');

function without(o: Record<string, unknown>, field: string): Record<string, unknown> {
  const c = { ...o };
  delete c[field];
  return c;
}

/** mulberry32 (the generator's seeded PRNG): a failing case can be reproduced. */
const prng = mulberry32;

/** The hand-written classes: every validation rule at least once. */
export function handCorpus(o: CorpusOptions): BadInput[] {
  const now = o.nowMs;
  const ev = baseEvent(now);
  const out: BadInput[] = [];
  const add = (kind: string, value: Buffer | null, field: string) => out.push({ kind, value, field });

  // Not JSON.
  add('not-json', Buffer.from('hello world'), 'value');
  add('not-json', Buffer.from('{"user_id": "u1", "product_id": '), 'value');
  add('not-json', Buffer.from("{'user_id': 'u1'}"), 'value');
  add('not-json', Buffer.from('{"user_id":"u1",}'), 'value');
  // Valid JSON, not an object.
  for (const v of ['[1,2,3]', '"just a string"', '42', 'null', 'true', `[${JSON.stringify(ev)}]`]) add('not-object', Buffer.from(v), 'value');
  // Empty / absent value.
  add('empty-value', Buffer.alloc(0), 'value');
  add('tombstone', null, 'value');
  // Each required field missing.
  for (const f of FIELDS) add('missing-field', json(without(ev, f)), f);
  // Each field with the wrong type.
  const wrong: Record<(typeof FIELDS)[number], unknown[]> = {
    user_id: [123, null, true, ['u1'], { id: 'u1' }],
    product_id: [7, null],
    category: [{}, 3.5],
    event_type: [1, null, ['view']],
    timestamp_ms: [String(now), null, true, { ms: now }],
  };
  for (const f of FIELDS) for (const v of wrong[f]) add('mistyped-field', json({ ...ev, [f]: v }), f);
  // Empty (or blank) user_id / category; an over-long id.
  add('empty-field', json({ ...ev, user_id: '' }), 'user_id');
  add('empty-field', json({ ...ev, user_id: '   ' }), 'user_id');
  add('empty-field', json({ ...ev, category: '' }), 'category');
  add('long-field', json({ ...ev, user_id: 'u'.repeat(300) }), 'user_id');
  // Unknown event types.
  for (const t of ['click', 'VIEW', '', 'purchase ']) add('unknown-event-type', json({ ...ev, event_type: t }), 'event_type');
  // Non-integer and absurd timestamps.
  add('non-integer-timestamp', Buffer.from(JSON.stringify(ev).replace(`"timestamp_ms":${now}`, `"timestamp_ms":${now}.5`)), 'timestamp_ms');
  add('non-integer-timestamp', json({ ...ev, timestamp_ms: 1e300 }), 'timestamp_ms');
  add('absurd-timestamp', json({ ...ev, timestamp_ms: 0 }), 'timestamp_ms');
  add('absurd-timestamp', json({ ...ev, timestamp_ms: -1 }), 'timestamp_ms');
  add('absurd-timestamp', json({ ...ev, timestamp_ms: Date.UTC(1999, 11, 31) }), 'timestamp_ms');
  add('absurd-timestamp', json({ ...ev, timestamp_ms: now + 10 * 365 * 86400_000 }), 'timestamp_ms');
  add('absurd-timestamp', json({ ...ev, timestamp_ms: Math.floor(now / 1000) }), 'timestamp_ms'); // seconds, not ms
  // Oversized: a valid event padded past the limit, by one byte and by a lot.
  for (const size of [o.maxMessageBytes + 1, o.maxMessageBytes * 4]) {
    const head = JSON.stringify({ ...ev, pad: '' });
    const padded = head.replace('"pad":""', `"pad":"${'x'.repeat(size - head.length)}"`);
    add('oversized', Buffer.from(padded), 'value');
  }
  // Invalid UTF-8 inside otherwise valid JSON, and bare.
  const utf8Bad = (bytes: number[]) => {
    const s = JSON.stringify({ ...ev, user_id: 'UTF8MARK' });
    const [a, b] = s.split('UTF8MARK');
    return Buffer.concat([Buffer.from(a), Buffer.from(bytes), Buffer.from(b)]);
  };
  add('invalid-utf8', utf8Bad([0xc3, 0x28]), 'value'); // broken 2-byte sequence
  add('invalid-utf8', utf8Bad([0xc0, 0xaf]), 'value'); // overlong '/'
  add('invalid-utf8', utf8Bad([0xed, 0xa0, 0x80]), 'value'); // UTF-16 surrogate
  add('invalid-utf8', utf8Bad([0xf4, 0x90, 0x80, 0x80]), 'value'); // beyond U+10FFFF
  add('invalid-utf8', Buffer.from([0xff, 0xfe, 0x00, 0x7b]), 'value');
  return out;
}

/**
 * Seeded fuzz, invalid by construction:
 *  - random bytes not starting like a JSON object (no '{', whitespace or a BOM first);
 *  - a valid event truncated (a proper prefix of a JSON object is never valid JSON);
 *  - a valid event with one raw control byte inserted (JSON forbids them everywhere);
 *  - a valid (ASCII) event with a byte that cannot start or continue UTF-8 inserted;
 *  - a valid event with one field replaced by a value of the wrong type, or deleted.
 */
export function fuzzCorpus(o: CorpusOptions): BadInput[] {
  const rnd = prng(o.seed ?? 0x5c0e);
  const int = (n: number) => Math.floor(rnd() * n);
  const out: BadInput[] = [];
  const n = o.fuzz ?? 1000;
  for (let i = 0; i < n; i++) {
    const good = Buffer.from(JSON.stringify(baseEvent(o.nowMs - int(5000), i)));
    switch (i % 6) {
      case 0: {
        const b = Buffer.alloc(1 + int(200));
        for (let k = 0; k < b.length; k++) b[k] = int(256);
        while ([0x7b, 0x20, 0x09, 0x0a, 0x0d, 0xef].includes(b[0])) b[0] = int(256);
        out.push({ kind: 'fuzz-random-bytes', value: b, field: 'value' });
        break;
      }
      case 1:
        out.push({ kind: 'fuzz-truncated', value: good.subarray(0, 1 + int(good.length - 1)), field: 'value' });
        break;
      case 2: {
        const ctl = [0, 1, 2, 3, 4, 5, 6, 7, 8, 0x0b, 0x0c, 0x0e, 0x0f, 0x10, 0x1b, 0x1f][int(16)];
        const at = int(good.length + 1);
        out.push({ kind: 'fuzz-control-byte', value: Buffer.concat([good.subarray(0, at), Buffer.from([ctl]), good.subarray(at)]), field: 'value' });
        break;
      }
      case 3: {
        // 0x80-0xBF continue nothing in ASCII text; 0xF8-0xFF never appear in UTF-8.
        const bad = rnd() < 0.5 ? 0x80 + int(0x40) : 0xf8 + int(8);
        const at = int(good.length + 1);
        out.push({ kind: 'fuzz-invalid-utf8', value: Buffer.concat([good.subarray(0, at), Buffer.from([bad]), good.subarray(at)]), field: 'value' });
        break;
      }
      case 4: {
        const f = FIELDS[int(FIELDS.length)];
        const ev = baseEvent(o.nowMs, i);
        let v: unknown;
        if (f === 'event_type') v = ['', 'View', 'buy', 'add-to-cart', 42, null][int(6)];
        else if (f === 'timestamp_ms') v = [o.nowMs + 0.25, `${o.nowMs}`, -int(1e6) - 1, null, [o.nowMs], o.nowMs * 1000][int(6)];
        else v = [int(1e6), null, false, [], {}, f === 'product_id' ? 0 : ''][int(6)];
        out.push({ kind: 'fuzz-wrong-type', value: json({ ...ev, [f]: v }), field: f });
        break;
      }
      default: {
        const f = FIELDS[int(FIELDS.length)];
        out.push({ kind: 'fuzz-missing-field', value: json({ ...without(baseEvent(o.nowMs, i), f), extra: int(100) }), field: f });
      }
    }
  }
  return out;
}

/** Hand corpus + fuzz. */
export function badInputCorpus(o: CorpusOptions): BadInput[] {
  return [...handCorpus(o), ...fuzzCorpus(o)];
}

/** Exactly the bytes a DLQ record claims it received ('utf8' text or 'base64'). */
export function originalBytes(dlq: { original_event: string | null; original_encoding: string }): Buffer | null {
  if (dlq.original_event === null) return null;
  return dlq.original_encoding === 'base64' ? Buffer.from(dlq.original_event, 'base64') : Buffer.from(dlq.original_event, 'utf8');
}

/** True when `b` is well-formed UTF-8. */
export function isUtf8(b: Buffer): boolean {
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(b);
    return true;
  } catch {
    return false;
  }
}
