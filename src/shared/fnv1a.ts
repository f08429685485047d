/**
 * Maps a key to one of `n` buckets. FNV-1a over UTF-16 code units: fast, and stable across
 * processes and restarts (the bucket depends on nothing but the key and n).
 */
export function fnv1aBucket(key: string, n: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % n;
}
