// A test file's hold on the shared Redis: a client connected before the file's tests, and fresh
// key prefixes whose keys are deleted after them (other engineers use the same Redis).
import { after, before } from 'node:test';
import { Redis } from 'ioredis';
import { REDIS_URL, assertServicesReachable, uniqueName } from './services.js';

export interface SharedRedis {
  /** Connected in the file's before hook. */
  readonly client: Redis;
  /** A fresh key prefix (`<unique name>:`); every key under it is deleted after the file. */
  prefix(name: string): string;
}

/** Registers the hooks: services checked and the client connected before; the prefixes' keys deleted and the client closed after. */
export function sharedRedis(): SharedRedis {
  let client: Redis | undefined;
  const prefixes: string[] = [];
  before(async () => {
    await assertServicesReachable();
    client = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
    await client.connect();
  });
  after(async () => {
    for (const p of prefixes) {
      const keys = await client!.keys(`${p}*`);
      if (keys.length) await client!.del(...keys);
    }
    await client?.quit();
  });
  return {
    get client() {
      return client!;
    },
    prefix(name) {
      const p = uniqueName(name) + ':';
      prefixes.push(p);
      return p;
    },
  };
}
