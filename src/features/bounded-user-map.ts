import { userMapTotals, type EvictionReason } from '../ops/memory-store-tally.js';

export { userMapTotals, type EvictionReason };

/**
 * The in-process feature store's users, bounded in time and in number. Entries are kept in the
 * order they were last updated (a Map keeps insertion order; touch() re-inserts), so with one TTL
 * for everyone the front holds the oldest expiry: evictExpired() stops at the first live entry
 * instead of scanning a million users, and when more than maxUsers are held the least recently
 * updated user goes first. An evicted user starts again from the cold-start vector, and its
 * replay guard goes with it (a re-delivery of its events after that is applied again).
 */
export class BoundedUserMap<V extends { expiresAt: number }> {
  private readonly m = new Map<string, V>();

  constructor(readonly maxUsers = Number.POSITIVE_INFINITY) {
    userMapTotals.maps.add(this);
  }

  get size(): number {
    return this.m.size;
  }

  get(id: string): V | undefined {
    return this.m.get(id);
  }

  /** Adds (or replaces) a user as the most recently updated, evicting the least recent ones beyond maxUsers. */
  set(id: string, v: V): this {
    this.m.delete(id);
    this.m.set(id, v);
    if (this.m.size > this.maxUsers) {
      let over = this.m.size - this.maxUsers;
      userMapTotals.evicted.capacity += over;
      for (const k of this.m.keys()) {
        this.m.delete(k);
        if (--over === 0) break;
      }
    }
    return this;
  }

  /** Marks a user as just updated (moves it behind everyone else). */
  touch(id: string): void {
    const v = this.m.get(id);
    if (v === undefined) return;
    this.m.delete(id);
    this.m.set(id, v);
  }

  /** Removes a user; `reason` counts it as an eviction. */
  delete(id: string, reason?: EvictionReason): boolean {
    const had = this.m.delete(id);
    if (had && reason) userMapTotals.evicted[reason]++;
    return had;
  }

  /** Drops expired users from the front (least recently updated first); returns how many. */
  evictExpired(now: number): number {
    let n = 0;
    for (const [k, v] of this.m) {
      if (v.expiresAt > now) break;
      this.m.delete(k);
      n++;
    }
    userMapTotals.evicted.ttl += n;
    return n;
  }

  [Symbol.iterator](): IterableIterator<[string, V]> {
    return this.m[Symbol.iterator]();
  }

  /** Stops counting this map in userMapTotals. */
  close(): void {
    userMapTotals.maps.delete(this);
  }
}
