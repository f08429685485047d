import type { FeatureSet } from './feature-set.js';
import { closeEnough, type LoggedEvent, type ReplayRows } from './offline-replay.js';

/**
 * Training/serving parity: features replayed offline from an event log, compared with what was
 * served (a file of feature rows, one per event) or with what the online store holds (each
 * user's features after their last event). Used by scripts/feature-parity.ts.
 */

export interface Mismatch {
  /** Event index in the log, or -1 for a per-user comparison. */
  event: number;
  user: string;
  feature: string;
  offline: number | null;
  online: number | null;
}

export interface ParityReport {
  compared: number;
  mismatches: Mismatch[];
  /** Events (or users) with at least one mismatch. */
  rowsWithMismatch: number;
}

/** One served row per event, in log order: `{"features":[...]}` or a bare array per NDJSON line. */
export function parseServedRows(text: string, width: number): number[][] {
  const rows: number[][] = [];
  const lines = text.split('\n');
  for (let n = 0; n < lines.length; n++) {
    if (!lines[n].trim()) continue;
    let v: unknown;
    try {
      v = JSON.parse(lines[n]);
    } catch (err) {
      throw new Error(`served features, line ${n + 1}: not JSON (${(err as Error).message})`);
    }
    const f = Array.isArray(v) ? v : (v as { features?: unknown })?.features;
    if (!Array.isArray(f) || f.length !== width || !f.every((x) => typeof x === 'number')) throw new Error(`served features, line ${n + 1}: expected ${width} numbers (an array, or {"features": [...]})`);
    rows.push(f as number[]);
  }
  return rows;
}

export function compareServed(set: FeatureSet, events: readonly LoggedEvent[], offline: ReplayRows, served: number[][], tolerance: number): ParityReport {
  const w = set.width;
  const mismatches: Mismatch[] = [];
  let rowsWithMismatch = 0;
  const n = Math.max(events.length, served.length);
  for (let i = 0; i < n; i++) {
    const row = served[i];
    const ev = events[i];
    let bad = false;
    for (let k = 0; k < w; k++) {
      const a = ev ? offline.features[i * w + k] : null;
      const b = row ? row[k] : null;
      if (a === null || b === null || !closeEnough(a, Math.fround(b), tolerance)) {
        mismatches.push({ event: i, user: ev?.user_id ?? '?', feature: set.names[k], offline: a, online: b });
        bad = true;
      }
    }
    if (bad) rowsWithMismatch++;
  }
  return { compared: n, mismatches, rowsWithMismatch };
}

/** Per user: the features after the user's last event, offline vs online (null: the store has no state for the user). */
export function compareUsers(set: FeatureSet, offline: Map<string, number[] | null>, online: Map<string, number[] | null>, tolerance: number): ParityReport {
  const mismatches: Mismatch[] = [];
  let rowsWithMismatch = 0;
  for (const [user, a] of offline) {
    const b = online.get(user) ?? null;
    let bad = false;
    for (let k = 0; k < set.width; k++) {
      const x = a ? a[k] : null;
      const y = b ? b[k] : null;
      if (x === null || y === null || !closeEnough(x, y, tolerance)) {
        mismatches.push({ event: -1, user, feature: set.names[k], offline: x, online: y });
        bad = true;
      }
    }
    if (bad) rowsWithMismatch++;
  }
  return { compared: offline.size, mismatches, rowsWithMismatch };
}

export function formatMismatch(m: Mismatch, events: readonly LoggedEvent[]): string {
  const where = m.event >= 0 ? `event ${m.event} (user ${JSON.stringify(m.user)}, ${events[m.event]?.source ?? '?'}@${events[m.event]?.offset ?? '?'})` : `user ${JSON.stringify(m.user)} (after their last event)`;
  const show = (v: number | null) => (v === null ? 'missing' : String(v));
  return `MISMATCH ${where} ${m.feature}: offline ${show(m.offline)}, online ${show(m.online)}`;
}
