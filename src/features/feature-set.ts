import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { FeatureSetError, ModelLoadError } from '../shared/errors.js';

/**
 * A model's declared feature set: model.json `features`, one entry per model input column, in
 * order. Each entry names a kind from a small vocabulary whose per-user state is O(1); the
 * arithmetic of every kind is written once per language (feature-kinds.ts, feature-lua.ts,
 * models/features.py) and the three are held equal by the golden vectors in models/golden/.
 * This module only parses and validates: an unknown kind or a bad parameter is a
 * FeatureSetError naming the feature and the file.
 */

export const KINDS = [
  'count',
  'decayed_count',
  'since_prev',
  'since_last',
  'session_events',
  'distinct_categories',
  'event_type_is',
  'category_is',
  'hour_of_day',
] as const;
export type FeatureKind = (typeof KINDS)[number];

/** Event type names as declared, and the codes the stores see (EVENT_TYPE_CODE in ingest/event.ts). */
const EVENT_TYPE_CODES: Record<string, number> = { view: 0, add_to_cart: 1, purchase: 2 };

/** Most categories a distinct_categories feature tracks: its state is a bit mask in a double. */
export const MAX_DISTINCT_CATEGORIES = 50;

export interface FeatureDef {
  index: number;
  name: string;
  kind: FeatureKind;
  /**
   * Hash field (Redis) of the feature's value after the user's last applied event, when the
   * declaration names one ("field": readable with redis-cli, as the default model's v, c, p, g).
   * null: the value is packed with the other unnamed features' state into the binary field 's'
   * (one field instead of dozens: about 10x less Redis time per event for a wide set).
   */
  field: string | null;
  /** The kind keeps extra state (since_last: last matching time; distinct_categories: seen mask). */
  hasExtra: boolean;
  /** Hash field of the extra state of a feature with a `field` (`<field>_x`), else null. */
  extraField: string | null;
  coldStart: number;
  /** Filter on the event type (codes), null: any. */
  eventTypes: number[] | null;
  /** Filter on the category, null: any. */
  categories: string[] | null;
  capMinutes: number;
  halfLifeMinutes: number;
  gapMinutes: number;
  /** distinct_categories: the tracked categories (any other counts as one more, "other"). category_is: not_in list. */
  categoryList: string[] | null;
  /** event_type_is: the code; category_is: the category (null with not_in). */
  eventType: number;
  category: string | null;
  fn: 'sin' | 'cos' | null;
}

export interface FeatureSet {
  features: FeatureDef[];
  width: number;
  names: string[];
  coldStart: number[];
  /** First 8 hex digits of the sha256 of the normalised declaration: part of the Redis key prefix. */
  hash: string;
  /** Where it was declared (for messages). */
  file: string;
}

const ALLOWED: Record<FeatureKind, string[]> = {
  count: ['event_type', 'category'],
  decayed_count: ['half_life_minutes', 'event_type', 'category'],
  since_prev: ['cap_minutes'],
  since_last: ['event_type', 'category', 'cap_minutes'],
  session_events: ['gap_minutes'],
  distinct_categories: ['categories'],
  event_type_is: ['event_type'],
  category_is: ['category', 'not_in'],
  hour_of_day: ['fn'],
};
const COMMON = ['name', 'kind', 'cold_start', 'field'];
const NAME_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Parses and validates a declaration (the `features` array of model.json). */
export function parseFeatureSet(decl: unknown, file: string): FeatureSet {
  if (!Array.isArray(decl) || decl.length === 0) throw new FeatureSetError(file, '', '"features" must be a non-empty array of feature declarations');
  const features: FeatureDef[] = [];
  const names = new Set<string>();
  const fields = new Set<string>();
  decl.forEach((raw, index) => {
    const label = raw && typeof raw === 'object' && typeof (raw as { name?: unknown }).name === 'string' ? `'${(raw as { name: string }).name}' (#${index})` : `#${index}`;
    const fail = (detail: string): never => {
      throw new FeatureSetError(file, label, detail);
    };
    if (!raw || typeof raw !== 'object' || Array.isArray(raw)) fail('must be an object with "name" and "kind"');
    const r = raw as Record<string, unknown>;
    if (typeof r.name !== 'string' || !NAME_RE.test(r.name)) fail(`"name" must match ${NAME_RE.source}`);
    const name = r.name as string;
    if (names.has(name)) fail('duplicate name');
    names.add(name);
    if (typeof r.kind !== 'string' || !(KINDS as readonly string[]).includes(r.kind)) fail(`unknown kind ${JSON.stringify(r.kind)} (allowed: ${KINDS.join(', ')})`);
    const kind = r.kind as FeatureKind;
    for (const k of Object.keys(r)) if (!COMMON.includes(k) && !ALLOWED[kind].includes(k)) fail(`unknown parameter "${k}" for kind ${kind} (allowed: ${ALLOWED[kind].join(', ') || 'none'})`);

    const num = (key: string, dflt: number | undefined, min: number, max = Infinity): number => {
      const v = r[key];
      if (v === undefined) {
        if (dflt === undefined) fail(`"${key}" is required`);
        return dflt!;
      }
      if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max || (min > 0 && v === 0)) fail(`"${key}" must be a number ${min > 0 ? '> 0' : `>= ${min}`}${max < Infinity ? ` and <= ${max}` : ''}, got ${JSON.stringify(v)}`);
      return v as number;
    };
    const strList = (key: string, required: boolean): string[] | null => {
      const v = r[key];
      if (v === undefined) {
        if (required) fail(`"${key}" is required`);
        return null;
      }
      const list = typeof v === 'string' ? [v] : v;
      if (!Array.isArray(list) || list.length === 0 || !list.every((x) => typeof x === 'string' && x.length > 0)) fail(`"${key}" must be a non-empty string or list of non-empty strings`);
      if (new Set(list as string[]).size !== (list as string[]).length) fail(`"${key}" lists a value twice`);
      return list as string[];
    };
    const eventTypeList = (required: boolean): number[] | null => {
      const list = strList('event_type', required);
      if (!list) return null;
      return list.map((t) => EVENT_TYPE_CODES[t] ?? fail(`"event_type" ${JSON.stringify(t)} is not one of ${Object.keys(EVENT_TYPE_CODES).join('|')}`));
    };

    const capMinutes = kind === 'since_prev' || kind === 'since_last' ? num('cap_minutes', 1440, 0) : 0;
    const f: FeatureDef = {
      index,
      name,
      kind,
      field: null,
      hasExtra: kind === 'since_last' || kind === 'distinct_categories',
      extraField: null,
      coldStart: 0,
      eventTypes: kind === 'count' || kind === 'decayed_count' || kind === 'since_last' ? eventTypeList(false) : null,
      categories: kind === 'count' || kind === 'decayed_count' || kind === 'since_last' ? strList('category', false) : null,
      capMinutes,
      halfLifeMinutes: kind === 'decayed_count' ? num('half_life_minutes', undefined, 1e-9) : 0,
      gapMinutes: kind === 'session_events' ? num('gap_minutes', 30, 1e-9) : 0,
      categoryList: null,
      eventType: -1,
      category: null,
      fn: null,
    };
    if (kind === 'distinct_categories') {
      f.categoryList = strList('categories', true);
      if (f.categoryList!.length > MAX_DISTINCT_CATEGORIES) fail(`"categories" lists ${f.categoryList!.length}; at most ${MAX_DISTINCT_CATEGORIES} (state is a bit mask)`);
    }
    if (kind === 'event_type_is') {
      const list = eventTypeList(true)!;
      if (list.length !== 1) fail('"event_type" must be one event type');
      f.eventType = list[0];
    }
    if (kind === 'category_is') {
      const one = r.category;
      const notIn = strList('not_in', false);
      if ((one === undefined) === (notIn === null)) fail('needs exactly one of "category" (a category) or "not_in" (a list: the "other" bucket)');
      if (one !== undefined && (typeof one !== 'string' || one.length === 0)) fail('"category" must be a non-empty string');
      f.category = (one as string | undefined) ?? null;
      f.categoryList = notIn;
    }
    if (kind === 'hour_of_day') {
      if (r.fn !== 'sin' && r.fn !== 'cos') fail(`"fn" must be "sin" or "cos", got ${JSON.stringify(r.fn)}`);
      f.fn = r.fn as 'sin' | 'cos';
    }
    f.coldStart = r.cold_start === undefined ? (kind === 'since_prev' || kind === 'since_last' ? capMinutes : 0) : num('cold_start', 0, -Infinity);
    if (r.field !== undefined) {
      if (typeof r.field !== 'string' || !NAME_RE.test(r.field)) fail(`"field" must match ${NAME_RE.source}`);
      f.field = r.field as string;
    }
    if (f.field !== null && f.hasExtra) f.extraField = `${f.field}_x`;
    // 't' is the user's last event time, 's' the packed state; guard fields start with 'o:' (see feature-store.ts).
    for (const fld of [f.field, f.extraField]) {
      if (fld === null) continue;
      if (fld === 't' || fld === 's' || fields.has(fld)) fail(`hash field "${fld}" is reserved or already used`);
      fields.add(fld);
    }
    features.push(f);
  });
  const normalised = features.map(({ index: _i, ...rest }) => rest);
  const hash = createHash('sha256').update(JSON.stringify(normalised)).digest('hex').slice(0, 8);
  return { features, width: features.length, names: features.map((f) => f.name), coldStart: features.map((f) => f.coldStart), hash, file };
}

/**
 * The feature set a model.json declares, checked against its `feature_names` and `cold_start`
 * (which train.py writes from the same declaration); or a bare declaration file (a list).
 */
export function loadFeatureSet(metaPath: string): FeatureSet {
  let meta: Record<string, unknown>;
  try {
    meta = JSON.parse(readFileSync(metaPath, 'utf8')) as Record<string, unknown>;
  } catch (err) {
    // An unreadable model.json is a broken model (exit 1), not a bad declaration (exit 2).
    throw new ModelLoadError(metaPath, `cannot read model metadata: ${(err as Error).message}`, { cause: err });
  }
  // A bare declaration file (models/feature-sets/*.json) is a list.
  if (Array.isArray(meta)) return parseFeatureSet(meta, metaPath);
  return featureSetOfMeta(meta, metaPath);
}

export function featureSetOfMeta(meta: Record<string, unknown>, metaPath: string): FeatureSet {
  // A model.json from before declarations: the default four features are implied.
  const implied = legacyFeatureSet();
  const legacy = meta.features === undefined && JSON.stringify(meta.feature_names) === JSON.stringify(implied.names);
  const cs0 = Array.isArray(meta.cold_start) && meta.cold_start.length === implied.width && meta.cold_start.every(Number.isFinite) ? (meta.cold_start as number[]) : undefined;
  const set = legacy ? { ...legacyFeatureSet(cs0), file: metaPath } : parseFeatureSet(meta.features, metaPath);
  const names = meta.feature_names;
  if (!Array.isArray(names) || names.length !== set.width || names.some((n, i) => n !== set.names[i])) {
    throw new FeatureSetError(metaPath, '', `"feature_names" ${JSON.stringify(names)} must list the ${set.width} declared features in order (${set.names.join(', ')})`);
  }
  const cs = meta.cold_start;
  if (cs !== undefined && (!Array.isArray(cs) || cs.length !== set.width || cs.some((v, i) => v !== set.coldStart[i]))) {
    throw new FeatureSetError(metaPath, '', `"cold_start" ${JSON.stringify(cs)} differs from the declared features' cold starts [${set.coldStart.join(', ')}]`);
  }
  return set;
}

/** True when two sets compute the same features (a hot reload across sets is refused: it needs a restart). */
export function sameFeatureSet(a: FeatureSet, b: FeatureSet): boolean {
  return a.hash === b.hash;
}

/**
 * The default model's four features (views, cart_adds, purchases, minutes_since_prev), for
 * callers that still configure a store by cold start and gap cap instead of a declaration.
 */
export function legacyFeatureSet(coldStart: readonly number[] = [0, 0, 0, 1440], gapCapMinutes = 1440): FeatureSet {
  return parseFeatureSet(
    [
      { name: 'views', kind: 'count', event_type: 'view', field: 'v', cold_start: coldStart[0] },
      { name: 'cart_adds', kind: 'count', event_type: 'add_to_cart', field: 'c', cold_start: coldStart[1] },
      { name: 'purchases', kind: 'count', event_type: 'purchase', field: 'p', cold_start: coldStart[2] },
      { name: 'minutes_since_prev', kind: 'since_prev', cap_minutes: gapCapMinutes, field: 'g', cold_start: coldStart[3] },
    ],
    '(built-in default feature set)',
  );
}
