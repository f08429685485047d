// What a declared feature set and its model cost, standalone (not part of npm run bench):
//   Lua: the generated script's server time per event (INFO commandstats of a private
//        redis-server, so other clients of the shared Redis do not count), batches of 256;
//   inference: µs per row at batch 1, 16 and 64 (one ModelSession, one thread, like a lane).
//
//   node --import tsx bench/feature-set-cost.ts [--model models/model.onnx] [--events 20000] [--ms 3000]
import { spawn } from 'node:child_process';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { loadFeatureSet } from '../src/features/feature-set.js';
import { RedisFeatureStore } from '../src/features/redis-feature-store.js';
import { replayThrough, type LoggedEvent } from '../src/features/offline-replay.js';
import { defaultMetaPath } from '../src/shared/model-meta.js';
import { ModelSession } from '../workers/model-session.js';

const { values: o } = parseArgs({ options: { model: { type: 'string', default: 'models/model.onnx' }, events: { type: 'string', default: '20000' }, ms: { type: 'string', default: '3000' }, port: { type: 'string', default: '6399' } } });
const metaPath = defaultMetaPath(o.model!);
const set = loadFeatureSet(metaPath);
const N = Number(o.events);
const CATS = ['books', 'electronics', 'fashion', 'home', 'toys', 'sports', 'garden', 'music'];
const TYPES = ['view', 'add_to_cart', 'purchase'] as const;

function events(n: number): LoggedEvent[] {
  let s = 12345;
  const r = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 4294967296);
  const out: LoggedEvent[] = [];
  const t0 = Date.UTC(2026, 0, 1);
  for (let i = 0; i < n; i++) {
    const x = r();
    out.push({ user_id: `u${Math.floor(r() * r() * 2000)}`, product_id: 'p', category: CATS[Math.floor(r() * CATS.length)], event_type: TYPES[x < 0.93 ? 0 : x < 0.975 ? 1 : 2], timestamp_ms: t0 + i * 250, source: 'bench:0', offset: i });
  }
  return out;
}

async function luaCost(): Promise<{ usPerEvent: number; calls: number; clientUsPerEvent: number }> {
  const port = Number(o.port);
  const server = spawn('redis-server', ['--port', String(port), '--save', '', '--appendonly', 'no', '--bind', '127.0.0.1'], { stdio: 'ignore' });
  const url = `redis://127.0.0.1:${port}`;
  let admin: Redis | null = null;
  try {
    for (let i = 0; !admin; i++) {
      const c = new Redis(url, { lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
      c.on('error', () => {});
      try {
        await c.connect();
        admin = c;
      } catch (err) {
        c.disconnect();
        if (i > 50) throw err;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    const store = new RedisFeatureStore({ ttlSeconds: 3600, featureSet: set, url, keyPrefix: 'bench:', commandTimeoutMs: 10_000, reconnect: { initialMs: 100, maxMs: 1000, multiplier: 2 } });
    await store.connect();
    const evs = events(N);
    await replayThrough(store, evs.slice(0, 2000), 256); // warm: script loaded, users exist
    await admin.config('RESETSTAT');
    const t0 = performance.now();
    await replayThrough(store, evs.slice(2000), 256);
    const clientMs = performance.now() - t0;
    const stats = await admin.info('commandstats');
    const m = /cmdstat_evalsha:calls=(\d+),usec=(\d+)/.exec(stats);
    if (!m) throw new Error(`no evalsha in commandstats:\n${stats}`);
    await store.close();
    return { usPerEvent: Number(m[2]) / (N - 2000), calls: Number(m[1]), clientUsPerEvent: (clientMs * 1000) / (N - 2000) };
  } finally {
    admin?.disconnect();
    server.kill('SIGTERM');
  }
}

async function inferenceCost(): Promise<{ batch: number; usPerRow: number }[]> {
  const session = await ModelSession.load(o.model!, metaPath);
  const w = session.width;
  const out: { batch: number; usPerRow: number }[] = [];
  for (const batch of [1, 16, 64]) {
    const rows = new Float32Array(batch * w);
    let s = 7;
    for (let i = 0; i < rows.length; i++) rows[i] = ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) % 1000) / 37;
    for (let i = 0; i < 200; i++) await session.score(rows, batch);
    let n = 0;
    const t0 = performance.now();
    while (performance.now() - t0 < Number(o.ms)) {
      await session.score(rows, batch);
      n++;
    }
    out.push({ batch, usPerRow: ((performance.now() - t0) * 1000) / (n * batch) });
  }
  await session.release();
  return out;
}

const lua = await luaCost();
const inf = await inferenceCost();
console.log(JSON.stringify({ model: o.model, features: set.width, set: set.hash, lua_us_per_event: +lua.usPerEvent.toFixed(2), lua_calls: lua.calls, client_us_per_event: +lua.clientUsPerEvent.toFixed(2), inference_us_per_row: Object.fromEntries(inf.map((r) => [r.batch, +r.usPerRow.toFixed(2)])) }));
