/** What /readyz asks of a remote store (the Redis feature store). */
export interface Pingable {
  ping(): Promise<void>;
}

export interface ReadinessInputs {
  /** Every lane has a loaded model. */
  lanesReady: boolean;
  /** Partitions are assigned and the engine is not shutting down. */
  consuming: boolean;
  /** The feature store /readyz pings, or null when it is in-process. */
  remoteStore: Pingable | null;
}

/** Why the engine cannot serve right now (empty: ready). The one definition /readyz uses. */
export async function notReadyReasons(s: ReadinessInputs, pingTimeoutMs = 500): Promise<string[]> {
  const reasons: string[] = [];
  if (!s.lanesReady) reasons.push('not every worker has a loaded model');
  if (!s.consuming) reasons.push('no partitions assigned yet, or shutting down');
  if (s.remoteStore && !(await answers(s.remoteStore, pingTimeoutMs))) reasons.push('redis not reachable');
  return reasons;
}

async function answers(store: Pingable, timeoutMs: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([store.ping(), new Promise((_, rej) => (timer = setTimeout(() => rej(new Error('timeout')), timeoutMs)))]);
    return true;
  } catch {
    // Unreachable is the answer here, not an error: the reason names it.
    return false;
  } finally {
    clearTimeout(timer);
  }
}
