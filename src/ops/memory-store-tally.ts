/** Why a user's state left the in-process feature store. */
export type EvictionReason = 'ttl' | 'capacity';

/**
 * Process-wide totals of the in-process feature store's user maps, which report into it
 * (features/bounded-user-map.ts) and the metrics read at scrape time (ops/metrics.ts). It lives
 * here so that ops does not depend on the features stage.
 */
export const userMapTotals = {
  maps: new Set<{ readonly size: number }>(),
  evicted: { ttl: 0, capacity: 0 } as Record<EvictionReason, number>,
  held(): number {
    let n = 0;
    for (const m of this.maps) n += m.size;
    return n;
  },
};
