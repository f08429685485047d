import { isUtf8 } from 'node:buffer';
import { ValidationError } from '../shared/errors.js';

export const EVENT_TYPES = ['view', 'add_to_cart', 'purchase'] as const;
export type EventType = (typeof EVENT_TYPES)[number];

/** Event type codes as the feature store script and the worker see them. */
export const EVENT_TYPE_CODE: Record<EventType, number> = { view: 0, add_to_cart: 1, purchase: 2 };

export interface UserEvent {
  user_id: string;
  product_id: string;
  category: string;
  event_type: EventType;
  timestamp_ms: number;
}

export interface ValidationLimits {
  /** Largest accepted record value in bytes. */
  maxMessageBytes: number;
  /** Longest accepted id/category string, in characters. */
  maxFieldLength: number;
  /** Event times before this are absurd (default 2000-01-01). */
  minTimestampMs: number;
  /** Event times further than this in the future of the wall clock are absurd. */
  maxFutureSkewMs: number;
}

export const DEFAULT_VALIDATION_LIMITS: ValidationLimits = {
  maxMessageBytes: 64 * 1024,
  maxFieldLength: 256,
  minTimestampMs: Date.UTC(2000, 0, 1),
  maxFutureSkewMs: 24 * 3600 * 1000,
};

function requireString(obj: Record<string, unknown>, field: string, limits: ValidationLimits, allowEmpty: boolean): string {
  const v = obj[field];
  if (v === undefined) throw new ValidationError(field, 'missing');
  if (typeof v !== 'string') throw new ValidationError(field, `must be a string, got ${v === null ? 'null' : typeof v}`);
  if (!allowEmpty && v.trim().length === 0) throw new ValidationError(field, 'must not be empty');
  if (v.length > limits.maxFieldLength) throw new ValidationError(field, `longer than ${limits.maxFieldLength} characters`);
  return v;
}

/**
 * Parses and validates one record value. Throws ValidationError naming the field.
 * `nowMs` is passed in so a batch is validated against one clock reading.
 */
export function parseEvent(value: Buffer | null, nowMs: number, limits: ValidationLimits = DEFAULT_VALIDATION_LIMITS): UserEvent {
  // A ValidationError is a value, not a bug: capturing its stack (and JSON.parse's) would make a
  // bad record cost several times a good one, and let bad traffic slow good traffic.
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return validate(value, nowMs, limits);
  } finally {
    Error.stackTraceLimit = limit;
  }
}

function validate(value: Buffer | null, nowMs: number, limits: ValidationLimits): UserEvent {
  if (value === null || value.length === 0) throw new ValidationError('value', 'empty record value');
  if (value.length > limits.maxMessageBytes) {
    throw new ValidationError('value', `record of ${value.length} bytes exceeds the ${limits.maxMessageBytes}-byte limit`);
  }
  // Native check, then a plain decode: cheaper than a fatal TextDecoder on the hot path.
  if (!isUtf8(value)) throw new ValidationError('value', 'not valid UTF-8');
  const text = value.toString('utf8');
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new ValidationError('value', `not JSON (${(err as Error).message})`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new ValidationError('value', `must be a JSON object, got ${Array.isArray(parsed) ? 'array' : parsed === null ? 'null' : typeof parsed}`);
  }
  const obj = parsed as Record<string, unknown>;
  const user_id = requireString(obj, 'user_id', limits, false);
  const product_id = requireString(obj, 'product_id', limits, true);
  const category = requireString(obj, 'category', limits, false);
  const et = obj.event_type;
  if (et === undefined) throw new ValidationError('event_type', 'missing');
  if (typeof et !== 'string' || !(EVENT_TYPES as readonly string[]).includes(et)) {
    throw new ValidationError('event_type', `must be one of ${EVENT_TYPES.join('|')}, got ${JSON.stringify(et)?.slice(0, 40)}`);
  }
  const ts = obj.timestamp_ms;
  if (ts === undefined) throw new ValidationError('timestamp_ms', 'missing');
  if (typeof ts !== 'number' || !Number.isSafeInteger(ts)) {
    throw new ValidationError('timestamp_ms', `must be an integer of milliseconds, got ${JSON.stringify(ts)?.slice(0, 40)}`);
  }
  if (ts < limits.minTimestampMs) throw new ValidationError('timestamp_ms', `${ts} is before ${new Date(limits.minTimestampMs).toISOString()}`);
  if (ts > nowMs + limits.maxFutureSkewMs) {
    throw new ValidationError('timestamp_ms', `${ts} is more than ${limits.maxFutureSkewMs} ms in the future`);
  }
  return { user_id, product_id, category, event_type: et as EventType, timestamp_ms: ts };
}
