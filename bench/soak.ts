// Memory over time (not a CI test; test/fault/memory-soak.test.ts runs a 3-minute version):
// the engine at a fixed event rate across many distinct users for N minutes, in embedded mode
// (generator source, in-process feature store) and/or Redis mode (Kafka in and out, features in
// Redis). Samples the engine's RSS and heap every 10 s, takes a heap snapshot after warm-up and
// at the end and lists what grew, and fits a line to the RSS after warm-up (MB per minute).
//
//   node --import tsx bench/soak.ts [--minutes 30] [--rate 2000] [--users 1000000]
//        [--mode embedded|redis|both] [--max-users N] [--no-snapshots] [--json out.json]
import '../src/kafka/kafkajs-read-committed.js'; // before kafkajs: fixes its read_committed filter
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Redis } from 'ioredis';
import { freePort, metricValue } from '../test/kit/engine-process.js';
import { heapGrowth, summarizeHeapSnapshot } from './heap-summary.js';
import { REDIS_URL, KAFKA_BROKERS, ROOT, createTopics, deleteGroups, deleteRedisPrefix, deleteTopics, kafkaClient, uniqueName } from './services.js';

export interface SoakOptions {
  mode: 'embedded' | 'redis';
  minutes: number;
  rate: number;
  users: number;
  /** MEMORY_STORE_MAX_USERS (embedded); default: the engine's default. */
  maxUsers?: number;
  sampleEverySec?: number;
  /** Samples before this are warm-up (excluded from the trend; the first snapshot is taken here). */
  warmupSec?: number;
  snapshots?: boolean;
  log?: (line: string) => void;
}

export interface SoakSample {
  t: number;
  rssMb: number;
  heapUsedMb: number;
  predictions: number;
  storeUsers: number;
  redisMb?: number;
}

export interface SoakResult {
  mode: string;
  options: Omit<SoakOptions, 'log'>;
  samples: SoakSample[];
  /** Least-squares slope of RSS over the samples after warm-up, MB per minute. */
  rssSlopeMbPerMin: number;
  heapSlopeMbPerMin: number;
  rssWarmMb: number;
  rssEndMb: number;
  rssMaxMb: number;
  /** Events scored per second over the run. */
  achievedRate: number;
  evictions: { ttl: number; capacity: number };
  heapGrowth?: ReturnType<typeof heapGrowth>;
  heapTotalMb?: { start: number; end: number };
  loadavg: number[];
}

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

function slope(xs: number[], ys: number[]): number {
  const n = xs.length;
  if (n < 2) return 0;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += (xs[i] - mx) * (ys[i] - my);
    den += (xs[i] - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

/** Asks the engine for a heap snapshot (--heapsnapshot-signal) and waits until the file is complete. */
async function snapshot(child: ChildProcess, dir: string, metricsUrl: string): Promise<string> {
  const before = new Set(readdirSync(dir));
  child.kill('SIGUSR2');
  const deadline = Date.now() + 600_000;
  for (;;) {
    await new Promise((r) => setTimeout(r, 1000));
    const f = readdirSync(dir).find((n) => n.endsWith('.heapsnapshot') && !before.has(n));
    // Node writes the snapshot on the main thread: once /metrics answers again, the file is whole.
    if (f && (await fetch(metricsUrl).then((r) => r.ok, () => false))) {
      const size = statSync(join(dir, f)).size;
      await new Promise((r) => setTimeout(r, 500));
      if (statSync(join(dir, f)).size === size) return join(dir, f);
    }
    if (Date.now() > deadline) throw new Error('heap snapshot did not finish in 10 minutes');
  }
}

/** Open-loop producer for Redis mode: `rate` events/s over `users` distinct users, round robin. */
function startProducer(topic: string, rate: number, users: number): { stop(): Promise<number> } {
  const kafka = kafkaClient('scorestream-soak-load');
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  const started = Date.now();
  let sent = 0;
  let stopped = false;
  let inFlight: Promise<unknown> = Promise.resolve();
  const ready = producer.connect();
  const timer = setInterval(() => {
    if (stopped) return;
    const target = Math.floor(((Date.now() - started) * rate) / 1000);
    if (target <= sent) return;
    const messages: { key: string; value: string }[] = [];
    const now = Date.now();
    for (let i = sent; i < target; i++) {
      const user = `soak-u${i % users}`;
      messages.push({ key: user, value: JSON.stringify({ user_id: user, product_id: `p${i % 997}`, category: 'books', event_type: i % 7 === 0 ? 'add_to_cart' : 'view', timestamp_ms: now }) });
    }
    sent = target;
    inFlight = Promise.all([inFlight, ready.then(() => producer.send({ topic, acks: 1, messages }))]).catch(() => {});
  }, 100);
  return {
    async stop() {
      stopped = true;
      clearInterval(timer);
      await inFlight;
      await producer.disconnect().catch(() => {});
      return sent;
    },
  };
}

export async function runSoak(o: SoakOptions): Promise<SoakResult> {
  const log = o.log ?? ((l: string) => process.stderr.write(l + '\n'));
  const every = (o.sampleEverySec ?? 10) * 1000;
  const warmupMs = (o.warmupSec ?? Math.min(60, o.minutes * 12)) * 1000;
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'scorestream-soak-'));
  const name = uniqueName('soak');
  const topics = [`${name}-in`, `${name}-out`, `${name}-dlq-v`, `${name}-dlq-p`, `${name}-dlq-l`];
  const env: Record<string, string> = { ...(process.env as Record<string, string>), METRICS_PORT: String(port), LOG_LEVEL: 'warn', STATUS_LINE: 'off', WORKERS: '1' };
  delete env.SCORESTREAM_FAULT_INJECTION; // SIGUSR2 is the heap snapshot signal here
  if (o.mode === 'embedded') {
    Object.assign(env, { KAFKA_BROKERS: '', FEATURE_STORE: 'memory', GENERATOR_RATE: String(o.rate), GENERATOR_USERS: String(o.users), OUTPUT: '/dev/null', DLQ_OUTPUT: '/dev/null' });
    if (o.maxUsers) env.MEMORY_STORE_MAX_USERS = String(o.maxUsers);
  } else {
    await createTopics(topics, 4);
    Object.assign(env, { KAFKA_BROKERS, REDIS_URL, FEATURE_STORE: 'redis', INPUT_TOPIC: topics[0], OUTPUT_TOPIC: topics[1], DLQ_VALIDATION_TOPIC: topics[2], DLQ_PROCESSING_TOPIC: topics[3], DLQ_LATE_TOPIC: topics[4], KAFKA_GROUP_ID: name, REDIS_KEY_PREFIX: `${name}:` });
  }
  const child = spawn(process.execPath, [`--heapsnapshot-signal=SIGUSR2`, `--diagnostic-dir=${dir}`, '--import', 'tsx', 'src/main.ts'], { cwd: ROOT, env, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr = (stderr + d).slice(-20_000)));
  const metricsUrl = `http://127.0.0.1:${port}/metrics`;
  const redis = o.mode === 'redis' ? new Redis(REDIS_URL) : null;
  let producer: ReturnType<typeof startProducer> | null = null;
  const samples: SoakSample[] = [];
  let snaps: string[] = [];
  try {
    for (const deadline = Date.now() + 90_000; ; ) {
      if (child.exitCode !== null) throw new Error(`engine exited (${child.exitCode}):\n${stderr}`);
      if (await fetch(`http://127.0.0.1:${port}/readyz`).then((r) => r.ok, () => false)) break;
      if (Date.now() > deadline) throw new Error(`engine not ready:\n${stderr}`);
      await new Promise((r) => setTimeout(r, 250));
    }
    if (o.mode === 'redis') producer = startProducer(topics[0], o.rate, o.users);
    const t0 = Date.now();
    const end = t0 + o.minutes * 60_000;
    let pausedMs = 0; // time spent inside heap snapshots (the engine is stopped then)
    let trendFrom = warmupMs / 1000; // the trend starts after warm-up and after the first snapshot (which itself raises RSS)
    for (let next = t0; Date.now() < end + pausedMs; next += every) {
      await new Promise((r) => setTimeout(r, Math.max(0, next - Date.now())));
      if (child.exitCode !== null) throw new Error(`engine exited (${child.exitCode}):\n${stderr}`);
      const text = await (await fetch(metricsUrl)).text();
      const s: SoakSample = {
        t: (Date.now() - t0 - pausedMs) / 1000,
        rssMb: rssMb(child.pid!),
        heapUsedMb: metricValue(text, 'scorestream_nodejs_heap_size_used_bytes') / 2 ** 20,
        predictions: metricValue(text, 'scorestream_predictions_total'),
        storeUsers: metricValue(text, 'scorestream_memory_store_users'),
      };
      if (redis) s.redisMb = Number(/used_memory:(\d+)/.exec(await redis.info('memory'))?.[1] ?? NaN) / 2 ** 20;
      samples.push(s);
      log(`soak ${o.mode} t=${s.t.toFixed(0)}s rss=${s.rssMb.toFixed(1)}MB heap=${s.heapUsedMb.toFixed(1)}MB predictions=${s.predictions} store-users=${s.storeUsers}${s.redisMb !== undefined ? ` redis=${s.redisMb.toFixed(1)}MB` : ''}`);
      if (o.snapshots !== false && snaps.length === 0 && s.t * 1000 >= warmupMs) {
        const at = Date.now();
        snaps.push(await snapshot(child, dir, metricsUrl));
        pausedMs += Date.now() - at;
        next += Date.now() - at;
        trendFrom = s.t + 0.001;
      }
    }
    if (o.snapshots !== false) snaps.push(await snapshot(child, dir, metricsUrl));
    const finalText = await (await fetch(metricsUrl)).text();
    const evictions = { ttl: metricValue(finalText, 'scorestream_memory_store_evictions_total', { reason: 'ttl' }), capacity: metricValue(finalText, 'scorestream_memory_store_evictions_total', { reason: 'capacity' }) };
    const warm = samples.filter((s) => s.t >= trendFrom);
    const mins = warm.map((s) => s.t / 60);
    const last = samples[samples.length - 1];
    const result: SoakResult = {
      mode: o.mode,
      options: { mode: o.mode, minutes: o.minutes, rate: o.rate, users: o.users, maxUsers: o.maxUsers, sampleEverySec: every / 1000, warmupSec: warmupMs / 1000, snapshots: o.snapshots },
      samples,
      rssSlopeMbPerMin: slope(mins, warm.map((s) => s.rssMb)),
      heapSlopeMbPerMin: slope(mins, warm.map((s) => s.heapUsedMb)),
      rssWarmMb: warm[0]?.rssMb ?? NaN,
      rssEndMb: last.rssMb,
      rssMaxMb: Math.max(...samples.map((s) => s.rssMb)),
      achievedRate: last.predictions / Math.max(1, last.t),
      evictions,
      loadavg: loadavg(),
    };
    if (snaps.length === 2) {
      const a = summarizeHeapSnapshot(snaps[0]);
      const b = summarizeHeapSnapshot(snaps[1]);
      result.heapTotalMb = { start: a.totalBytes / 2 ** 20, end: b.totalBytes / 2 ** 20 };
      result.heapGrowth = heapGrowth(a, b);
    }
    return result;
  } finally {
    await producer?.stop();
    child.kill('SIGKILL');
    redis?.disconnect();
    rmSync(dir, { recursive: true, force: true });
    snaps = [];
    if (o.mode === 'redis') {
      await deleteRedisPrefix(`${name}:`).catch(() => {});
      await deleteTopics(topics).catch(() => {});
      await deleteGroups([name]).catch(() => {});
    }
  }
}

export function formatSoak(r: SoakResult): string {
  const lines = [
    `${r.mode}: ${r.options.minutes} min at ${r.options.rate}/s over ${r.options.users} users (achieved ${r.achievedRate.toFixed(0)}/s), load average ${r.loadavg.map((x) => x.toFixed(1)).join(' ')}`,
    `  RSS after warm-up ${r.rssWarmMb.toFixed(0)} MB, at the end ${r.rssEndMb.toFixed(0)} MB, max ${r.rssMaxMb.toFixed(0)} MB; trend after warm-up: RSS ${r.rssSlopeMbPerMin.toFixed(2)} MB/min, heap ${r.heapSlopeMbPerMin.toFixed(2)} MB/min`,
    `  store users at the end ${r.samples[r.samples.length - 1].storeUsers}, evictions ttl ${r.evictions.ttl} capacity ${r.evictions.capacity}` +
      (r.samples[0].redisMb !== undefined ? `; Redis used_memory ${r.samples[0].redisMb!.toFixed(0)} -> ${r.samples[r.samples.length - 1].redisMb!.toFixed(0)} MB` : ''),
  ];
  if (r.heapGrowth && r.heapTotalMb) {
    lines.push(`  heap snapshot after warm-up ${r.heapTotalMb.start.toFixed(1)} MB -> end ${r.heapTotalMb.end.toFixed(1)} MB; largest growth:`);
    for (const g of r.heapGrowth.slice(0, 8)) lines.push(`    ${g.key.padEnd(40)} ${(g.bytesDelta / 2 ** 20).toFixed(2).padStart(8)} MB  ${String(g.countDelta).padStart(9)} objects`);
  }
  return lines.join('\n');
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const args = process.argv.slice(2);
  const opt = (name: string, dflt: string) => {
    const i = args.indexOf(`--${name}`);
    return i >= 0 ? args[i + 1] : dflt;
  };
  const modes = opt('mode', 'both') === 'both' ? (['embedded', 'redis'] as const) : [opt('mode', 'both') as 'embedded' | 'redis'];
  const results: SoakResult[] = [];
  for (const mode of modes) {
    const r = await runSoak({ mode, minutes: Number(opt('minutes', '30')), rate: Number(opt('rate', '2000')), users: Number(opt('users', '1000000')), maxUsers: args.includes('--max-users') ? Number(opt('max-users', '0')) : undefined, snapshots: !args.includes('--no-snapshots') });
    results.push(r);
    process.stdout.write(formatSoak(r) + '\n');
  }
  const out = opt('json', '');
  if (out) writeFileSync(out, JSON.stringify(results, null, 2) + '\n');
}
