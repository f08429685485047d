// The synthetic clickstream's random pieces, shared by the generator source and the bench's load
// harness (bench/harness/workload.ts). No imports: the harness process loads none of the
// engine's modules beyond this one.

/** Small deterministic PRNG (mulberry32): reproducible streams for a given seed. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Zipf-like user rank in [0, n): a few users are very active, most are not (continuous power-law inverse CDF, s = 1.2). */
export function zipfRank(u: number, n: number, s = 1.2): number {
  const a = 1 - s;
  const r = Math.floor(((n ** a - 1) * u + 1) ** (1 / a)) - 1;
  return Math.min(Math.max(r, 0), n - 1);
}

export const CATEGORIES = ['electronics', 'books', 'fashion', 'home', 'sports', 'beauty', 'toys', 'grocery'];

export type FunnelStep = 'view' | 'add_to_cart' | 'purchase';

/** The funnel step for a uniform draw `u`: 85 % view, 12 % add to cart, 3 % purchase. */
export const funnelStep = (u: number): FunnelStep => (u < 0.85 ? 'view' : u < 0.97 ? 'add_to_cart' : 'purchase');

/** The category for a uniform draw `u`. */
export const categoryOf = (u: number): string => CATEGORIES[Math.floor(u * CATEGORIES.length)];
