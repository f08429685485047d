// The local 3-node Redis Cluster of `scripts/infra.sh cluster-up` (127.0.0.1:7000-7002), for
// tests that run the engine with REDIS_CLUSTER_NODES. Tests bring it up themselves (cheap,
// idempotent): CI starts from a fresh machine where only `infra.sh up` ran.
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Cluster } from 'ioredis';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export const CLUSTER_NODES = '127.0.0.1:7000,127.0.0.1:7001,127.0.0.1:7002';

/** Starts (or reuses) the local cluster; returns once every node says cluster_state:ok. */
export function clusterUp(): void {
  execFileSync('bash', ['scripts/infra.sh', 'cluster-up'], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'], timeout: 120_000 });
}

export function clusterClient(): Cluster {
  return new Cluster(
    CLUSTER_NODES.split(',').map((n) => {
      const [host, port] = n.split(':');
      return { host, port: Number(port) };
    }),
    { enableAutoPipelining: true, redisOptions: { maxRetriesPerRequest: 2 } },
  );
}

/** Keys matching `prefix*` on each master, by "host:port" (SCAN on every node: a key lives on one). */
export async function keysPerNode(cluster: Cluster, prefix: string): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  for (const node of cluster.nodes('master')) {
    const keys: string[] = [];
    let cursor = '0';
    do {
      const [next, batch] = await node.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      keys.push(...batch);
      cursor = next;
    } while (cursor !== '0');
    out.set(`${node.options.host}:${node.options.port}`, keys);
  }
  return out;
}

/** HGETALL of many keys, auto-pipelined per node. */
export async function readHashes(cluster: Cluster, keys: string[]): Promise<Map<string, Record<string, string>>> {
  const values = await Promise.all(keys.map((k) => cluster.hgetall(k)));
  return new Map(keys.map((k, i) => [k, values[i]]));
}
