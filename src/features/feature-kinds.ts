import type { FeatureDef, FeatureSet } from './feature-set.js';

/**
 * The arithmetic of every feature kind, in TypeScript (the in-process store and the parity
 * command). feature-lua.ts writes the same in Lua and models/features.py in Python; the golden
 * vectors in models/golden/ hold the three equal. Keep the expressions in the same order in
 * all three (floating-point results depend on it).
 *
 * Per event: `first` when the user has no state; T the user's last event time (never moves
 * backwards); te = max(ts, T) becomes the new T; dt = ts - T (raw, may be negative).
 */

const MIN_MS = 60_000;
const DAY_MS = 86_400_000;

/** One user's state: the value of each feature after the last applied event, and each kind's extra state. */
export interface UserFeatureState {
  /** Last event time (ms); NaN before the first event. */
  t: number;
  vals: Float64Array;
  /** since_last: time of the last matching event; distinct_categories: the seen-categories mask. NaN: none yet. */
  extra: Float64Array;
}

export function newUserState(set: FeatureSet): UserFeatureState {
  return { t: NaN, vals: Float64Array.from(set.coldStart), extra: new Float64Array(set.width).fill(NaN) };
}

function matches(f: FeatureDef, code: number, category: string): boolean {
  return (f.eventTypes === null || f.eventTypes.includes(code)) && (f.categories === null || f.categories.includes(category));
}

function clamp(x: number, cap: number): number {
  return Math.min(Math.max(x, 0), cap);
}

/** Applies one event to a user's state; afterwards `s.vals` holds the event's features. */
export function applyEvent(set: FeatureSet, s: UserFeatureState, code: number, category: string, ts: number): void {
  const first = Number.isNaN(s.t);
  const T = s.t;
  const te = first || ts >= T ? ts : T;
  const dt = first ? 0 : ts - T;
  const v = s.vals;
  const x = s.extra;
  for (const f of set.features) {
    const i = f.index;
    switch (f.kind) {
      case 'count':
        if (matches(f, code, category)) v[i] = v[i] + 1;
        break;
      case 'decayed_count': {
        let c = v[i];
        if (!first) c = c * 2 ** (-(te - T) / (f.halfLifeMinutes * MIN_MS));
        if (matches(f, code, category)) c = c + 1;
        v[i] = c;
        break;
      }
      case 'since_prev':
        v[i] = first ? f.coldStart : clamp(dt / MIN_MS, f.capMinutes);
        break;
      case 'since_last': {
        const L = x[i];
        v[i] = Number.isNaN(L) ? f.coldStart : clamp((ts - L) / MIN_MS, f.capMinutes);
        if (matches(f, code, category)) x[i] = te;
        break;
      }
      case 'session_events':
        v[i] = first ? f.coldStart + 1 : dt > f.gapMinutes * MIN_MS ? 1 : v[i] + 1;
        break;
      case 'distinct_categories': {
        const m = Number.isNaN(x[i]) ? 0 : x[i];
        const k = f.categoryList!.indexOf(category);
        const bit = 2 ** (k < 0 ? f.categoryList!.length : k);
        if (Math.floor(m / bit) % 2 === 0) {
          x[i] = m + bit;
          v[i] = v[i] + 1;
        } else x[i] = m;
        break;
      }
      case 'event_type_is':
        v[i] = code === f.eventType ? 1 : 0;
        break;
      case 'category_is':
        v[i] = f.category !== null ? (category === f.category ? 1 : 0) : f.categoryList!.includes(category) ? 0 : 1;
        break;
      case 'hour_of_day': {
        const a = (2 * Math.PI * (ts % DAY_MS)) / DAY_MS;
        v[i] = f.fn === 'sin' ? Math.sin(a) : Math.cos(a);
        break;
      }
    }
  }
  s.t = te;
}
