/**
 * Maps a user id to one of N lanes. FNV-1a over UTF-16 code units: fast, stable across
 * processes and restarts (a user's lane must not depend on anything but the id and N).
 */
export function laneOf(userId: string, lanes: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < userId.length; i++) {
    h ^= userId.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % lanes;
}
