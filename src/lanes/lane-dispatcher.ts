import type { EventInFlight } from '../ingest/event-in-flight.js';
import type { ScorestreamError } from '../shared/errors.js';
import type { LanePool } from './lane-pool.js';
import { laneOf } from './lane-router.js';

/** What a lane carries back with its result: the events of the request, and why they fell back if they did. */
export interface LaneBatch {
  items: EventInFlight[];
  reason?: 'feature_store';
}

/** Splits a feature call's rows by lane: each event goes to its user's lane (lane-router). */
export class LaneDispatcher {
  constructor(private readonly pool: LanePool<LaneBatch>) {}

  /** `features`: the store's rows for `items`, the declared feature set's width per row. */
  dispatch(items: EventInFlight[], features: Float32Array): void {
    const n = items.length;
    if (n === 0) return;
    const lanes = this.pool.size;
    const w = features.length / n;
    if (lanes === 1) {
      this.pool.dispatch(0, features, n, { items });
      return;
    }
    const laneOfItem = new Uint32Array(n);
    const counts = new Uint32Array(lanes);
    for (let i = 0; i < n; i++) counts[(laneOfItem[i] = laneOf(items[i].ev.user_id, lanes))]++;
    const perLane: { features: Float32Array; items: EventInFlight[]; at: number }[] = [];
    for (let l = 0; l < lanes; l++) perLane.push({ features: new Float32Array(counts[l] * w), items: [], at: 0 });
    for (let i = 0; i < n; i++) {
      const it = items[i];
      const d = perLane[laneOfItem[i]];
      d.features.set(features.subarray(i * w, (i + 1) * w), d.at);
      d.at += w;
      d.items.push(it);
    }
    for (let l = 0; l < lanes; l++) if (counts[l]) this.pool.dispatch(l, perLane[l].features, counts[l], { items: perLane[l].items });
  }

  /**
   * Completes events without features on the main thread, still through their lane's ordered
   * release behind that lane's in-flight work, so a user's outputs stay in input order.
   */
  fallback(items: EventInFlight[], error: ScorestreamError): void {
    const byLane = new Map<number, EventInFlight[]>();
    for (const it of items) {
      const lane = laneOf(it.ev.user_id, this.pool.size);
      let list = byLane.get(lane);
      if (!list) byLane.set(lane, (list = []));
      list.push(it);
    }
    for (const [lane, its] of byLane) {
      this.pool.completeLocally(lane, its.length, { items: its, reason: 'feature_store' }, { probs: null, error, modelVersion: this.pool.modelVersion, inferUs: 0, batchRows: 0 });
    }
  }
}
