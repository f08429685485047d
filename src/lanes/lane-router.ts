import { fnv1aBucket } from '../shared/fnv1a.js';

/** Maps a user id to one of N lanes: a user's lane depends on nothing but its id and N. */
export function laneOf(userId: string, lanes: number): number {
  return fnv1aBucket(userId, lanes);
}
