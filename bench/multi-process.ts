// Scale-out bench: 1, 2 and 3 engine processes in one consumer group on the same 12-partition
// topic, each measured for
//   - max throughput: a backlog produced before the engines start, drained by the group; events/s
//     from the engines' scorestream_predictions_total once every process is assigned;
//   - p99 latency at a fixed open-loop rate (prediction read back from the output topic −
//     scheduled send time), after the backlog is gone.
// Standalone: `node --import tsx bench/multi-process.ts [--help]`. Prints a table and the JSON.
import '../src/kafka/kafkajs-read-committed.js'; // before kafkajs: fixes its read_committed filter
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { pathToFileURL } from 'node:url';
import { AssignerProtocol, type Producer } from 'kafkajs';
import { buildEngine } from './build.js';
import { CpuSnapshot } from './cpu-sampler.js';
import { newLatencyHistogram, percentilesOf, type LatencyPercentiles } from './histogram.js';
import { KAFKA_BROKERS, REDIS_URL, ROOT, createTopics, deleteGroups, deleteRedisPrefix, deleteTopics, ensureServices, kafkaClient, uniqueName } from './services.js';
import { TargetProcess, type Runtime } from './target-process.js';

const USAGE = `node --import tsx bench/multi-process.ts [options]
  --processes 1,2,3     engine process counts to measure (default 1,2,3)
  --workers N           WORKERS of each process (default 1)
  --partitions N        input topic partitions (default 12)
  --backlog N           events produced before the engines start, drained for the throughput figure (default 150000)
  --rate N              open-loop events/s for the latency figure (default 2000)
  --seconds N           length of the latency window (default 8)
  --redis single|cluster  features in REDIS_URL or the local 3-node cluster (default single)
  --runtime compiled|tsx  engine from .cache/bench-build (default) or from the sources
  --json FILE           also write the results there`;

export interface MultiProcessOptions {
  processes: number[];
  workers: number;
  partitions: number;
  backlog: number;
  rate: number;
  seconds: number;
  redis: 'single' | 'cluster';
  runtime: Runtime;
  json: string | null;
}

class UsageError extends Error {
  override name = 'UsageError';
}

export const MULTI_PROCESS_DEFAULTS: MultiProcessOptions = { processes: [1, 2, 3], workers: 1, partitions: 12, backlog: 150_000, rate: 2000, seconds: 8, redis: 'single', runtime: 'compiled', json: null };

function parseOptions(argv: string[]): MultiProcessOptions | null {
  const o: MultiProcessOptions = { ...MULTI_PROCESS_DEFAULTS };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--help' || a === '-h') return null;
    const v = argv[++i];
    if (v === undefined) throw new UsageError(`${a} needs a value`);
    const int = (min: number) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < min) throw new UsageError(`${a} ${v}: an integer >= ${min}`);
      return n;
    };
    if (a === '--processes') {
      o.processes = v.split(',').map((x) => Number(x));
      if (!o.processes.every((n) => Number.isInteger(n) && n >= 1)) throw new UsageError(`--processes ${v}: comma-separated integers >= 1`);
    } else if (a === '--workers') o.workers = int(1);
    else if (a === '--partitions') o.partitions = int(1);
    else if (a === '--backlog') o.backlog = int(1000);
    else if (a === '--rate') o.rate = int(1);
    else if (a === '--seconds') o.seconds = int(1);
    else if (a === '--redis' && (v === 'single' || v === 'cluster')) o.redis = v;
    else if (a === '--runtime' && (v === 'compiled' || v === 'tsx')) o.runtime = v;
    else if (a === '--json') o.json = v;
    else throw new UsageError(`unknown option or value: ${a} ${v}`);
  }
  return o;
}

const CLUSTER_NODES = '127.0.0.1:7000,127.0.0.1:7001,127.0.0.1:7002';
const USERS = 10_000;
const TYPES = ['view', 'view', 'view', 'view', 'view', 'view', 'add_to_cart', 'add_to_cart', 'purchase'];
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const log = (s: string) => process.stderr.write(`[multi-process] ${s}\n`);

function event(now: number): { key: string; value: string } {
  const user = `mu${Math.floor(Math.random() * USERS)}`;
  return { key: user, value: JSON.stringify({ user_id: user, product_id: `p${Math.floor(Math.random() * 1000)}`, category: `c${Math.floor(Math.random() * 20)}`, event_type: TYPES[Math.floor(Math.random() * TYPES.length)], timestamp_ms: now }) };
}

export interface ProcessCountResult {
  processes: number;
  workers_per_process: number;
  /** Events/s of the whole group while it drained the backlog with every process assigned. */
  max_throughput_eps: number;
  /** Events counted in that window. */
  throughput_window_events: number;
  throughput_window_s: number;
  /** Per process, events/s in the same window. */
  per_process_eps: number[];
  /** Percent of one core over the throughput window: engines (sum), broker, Redis, the machine. */
  cpu_pct: { engines: number | null; broker: number | null; redis: number | null; machine: number | null };
  /** Per process, its main thread's percent of one core over the window (100 = the Kafka/JSON/Redis thread is saturated). */
  main_thread_pct: (number | null)[];
  latency_rate_eps: number;
  latency_achieved_eps: number;
  latency: LatencyPercentiles;
  /** From spawn to every process ready and the group balanced. */
  startup_ms: number;
}

/** Members of the group with their assigned partitions, once it is Stable with `n` members each holding some. */
async function waitBalanced(groupId: string, n: number, partitions: number, timeoutMs: number): Promise<void> {
  const admin = kafkaClient('bench-mp-admin').admin();
  await admin.connect();
  try {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const { groups } = await admin.describeGroups([groupId]);
      const g = groups[0];
      if (g.state === 'Stable' && g.members.length === n) {
        const counts = g.members.map((m) => Object.values(AssignerProtocol.MemberAssignment.decode(m.memberAssignment)?.assignment ?? {}).flat().length);
        if (counts.every((c) => c > 0) && counts.reduce((a, b) => a + b, 0) === partitions) return;
      }
      await sleep(100);
    }
    throw new Error(`group ${groupId} not balanced over ${n} members within ${timeoutMs} ms`);
  } finally {
    await admin.disconnect();
  }
}

async function produceBacklog(producer: Producer, topic: string, n: number): Promise<number> {
  const t0 = Date.now();
  const chunk = 5000;
  for (let i = 0; i < n; i += chunk) {
    const now = Date.now();
    const messages = Array.from({ length: Math.min(chunk, n - i) }, () => event(now));
    await producer.send({ topic, acks: 1, messages });
  }
  return Date.now() - t0;
}

function pidFile(name: string): number | null {
  try {
    return Number(readFileSync(`${ROOT}/.infra/${name}`, 'utf8').trim()) || null;
  } catch {
    return null;
  }
}

async function predictions(engines: TargetProcess[]): Promise<number[]> {
  return Promise.all(engines.map(async (e) => (await e.metrics(['scorestream_predictions_total'])).scorestream_predictions_total));
}

async function runProcessCount(o: MultiProcessOptions, n: number): Promise<ProcessCountResult> {
  const id = uniqueName(`mp${n}`);
  const input = `${id}-in`;
  const output = `${id}-out`;
  const dlq = [`${id}-dlq-v`, `${id}-dlq-p`, `${id}-dlq-l`];
  const groupId = `${id}-group`;
  const keyPrefix = `${id}:u:`;
  await createTopics([input, output], o.partitions);
  await createTopics(dlq, 1);
  const kafka = kafkaClient('bench-mp');
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  const engines: TargetProcess[] = [];
  const reader = kafka.consumer({ groupId: `${id}-reader`, maxWaitTimeInMs: 50 });
  try {
    // The burst first, with no engine running, so producing it takes no CPU from the engines.
    const produceMs = await produceBacklog(producer, input, o.backlog);
    log(`${n} process(es): backlog of ${o.backlog} events produced in ${produceMs} ms`);

    const env: Record<string, string> = {
      KAFKA_BROKERS,
      REDIS_URL,
      INPUT_TOPIC: input,
      OUTPUT_TOPIC: output,
      DLQ_VALIDATION_TOPIC: dlq[0],
      DLQ_PROCESSING_TOPIC: dlq[1],
      DLQ_LATE_TOPIC: dlq[2],
      KAFKA_GROUP_ID: groupId,
      REDIS_KEY_PREFIX: keyPrefix,
      FEATURE_TTL_SECONDS: '600',
      WORKERS: String(o.workers),
      KAFKAJS_NO_PARTITIONER_WARNING: '1',
      ...(o.redis === 'cluster' ? { REDIS_CLUSTER_NODES: CLUSTER_NODES } : {}),
    };
    const t0 = Date.now();
    engines.push(...(await Promise.all(Array.from({ length: n }, () => TargetProcess.start('engine', o.runtime, env)))));
    await Promise.all(engines.map((e) => e.waitReady(120_000)));
    await waitBalanced(groupId, n, o.partitions, 60_000);
    const startupMs = Date.now() - t0;

    // Throughput from the moment the group is balanced (the first process up drains alone while
    // the others load and join; that part is not counted) until 90% of the backlog is done (the
    // tail, where partitions run dry one by one, would understate the rate).
    const a = await predictions(engines);
    log(`${n} process(es): group balanced after ${startupMs} ms; ${o.backlog - a.reduce((x, y) => x + y, 0)} events left for the window`);
    const redisPids: Record<string, number | null> =
      o.redis === 'cluster' ? Object.fromEntries(CLUSTER_NODES.split(',').map((n, i) => [`redis${i}`, pidFile(`redis-cluster/${n.split(':')[1]}/redis.pid`)])) : { redis0: pidFile('redis.pid') };
    const cpuA = new CpuSnapshot({ broker: pidFile('kafka.pid'), ...redisPids, ...Object.fromEntries(engines.map((e, i) => [`engine${i}`, e.pid])) });
    const ta = Date.now();
    let b = a;
    let tb = ta;
    const deadline = Date.now() + 120_000;
    while (Date.now() < deadline) {
      await sleep(250);
      b = await predictions(engines);
      tb = Date.now();
      if (b.reduce((x, y) => x + y, 0) >= 0.9 * o.backlog) break;
    }
    const cpu = cpuA.diff(new CpuSnapshot(Object.fromEntries([...cpuA.procs].map(([k, v]) => [k, v.pid]))));
    const windowEvents = b.reduce((x, y) => x + y, 0) - a.reduce((x, y) => x + y, 0);
    const windowS = (tb - ta) / 1000;
    const enginesPct = engines.reduce((s, _e, i) => s + (cpu.procs[`engine${i}`]?.pct ?? 0), 0);
    const redisPct = Object.keys(redisPids).reduce((s, k) => s + (cpu.procs[k]?.pct ?? 0), 0);
    if (windowEvents < 0.3 * o.backlog) log(`${n} process(es): only ${windowEvents} events fell in the window (the group was slow to form); the figure is rough, raise --backlog`);
    // Let the rest drain before the latency window.
    while (Date.now() < deadline && (await predictions(engines)).reduce((x, y) => x + y, 0) < o.backlog) await sleep(200);

    // Latency at a fixed open-loop rate, read back from the output topic.
    const hist = newLatencyHistogram();
    let read = 0;
    await reader.connect();
    await reader.subscribe({ topic: output, fromBeginning: false });
    const since = Date.now();
    await reader.run({
      eachBatch: async ({ batch }) => {
        const now = Date.now();
        for (const m of batch.messages) {
          const v = JSON.parse(m.value!.toString()) as { event_time: number };
          if (v.event_time < since) continue;
          hist.recordValue(Math.max(1, (now - v.event_time) * 1000));
          read++;
        }
      },
    });
    await sleep(1500); // the reader joins its group and reaches the end of the topic
    const start = Date.now();
    let sent = 0;
    while (Date.now() - start < o.seconds * 1000) {
      const due = Math.floor(((Date.now() - start) * o.rate) / 1000);
      if (due > sent) {
        const messages: { key: string; value: string }[] = [];
        for (; sent < due; sent++) messages.push(event(Math.floor(start + (sent * 1000) / o.rate)));
        await producer.send({ topic: input, acks: 1, messages });
      }
      await sleep(5);
    }
    const drainUntil = Date.now() + 5000;
    while (read < sent && Date.now() < drainUntil) await sleep(50);
    const latency = percentilesOf(hist);
    if (read < sent) log(`${n} process(es): ${sent - read} of ${sent} latency events not read back within 5 s of the end (not in the percentiles)`);

    return {
      processes: n,
      workers_per_process: o.workers,
      max_throughput_eps: Math.round(windowEvents / windowS),
      throughput_window_events: windowEvents,
      throughput_window_s: Math.round(windowS * 10) / 10,
      per_process_eps: b.map((x, i) => Math.round((x - a[i]) / windowS)),
      cpu_pct: { engines: Math.round(enginesPct), broker: cpu.procs.broker?.pct ?? null, redis: Math.round(redisPct * 10) / 10, machine: cpu.machineBusyPct },
      main_thread_pct: engines.map((_e, i) => cpu.procs[`engine${i}`]?.mainPct ?? null),
      latency_rate_eps: o.rate,
      latency_achieved_eps: Math.round(read / o.seconds),
      latency,
      startup_ms: startupMs,
    };
  } finally {
    await reader.disconnect().catch(() => {});
    await Promise.all(engines.map((e) => e.stop()));
    await producer.disconnect().catch(() => {});
    await deleteTopics([input, output, ...dlq]);
    await deleteGroups([groupId, `${id}-reader`]);
    if (o.redis === 'single') await deleteRedisPrefix(keyPrefix);
  }
}

export async function runMultiProcess(o: MultiProcessOptions): Promise<{ machine: Record<string, unknown>; results: ProcessCountResult[] }> {
  await ensureServices(log);
  if (o.redis === 'cluster') execFileSync('bash', ['scripts/infra.sh', 'cluster-up'], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
  if (o.runtime === 'compiled' && !buildEngine(log)) throw new Error('build failed (or use --runtime tsx)');
  const machine = { cpus: availableParallelism(), loadavg_at_start: loadavg().map((x) => Math.round(x * 100) / 100), node: process.version, redis: o.redis, at: new Date().toISOString() };
  const results: ProcessCountResult[] = [];
  for (const n of o.processes) {
    const r = await runProcessCount(o, n);
    log(`${n} process(es): ${r.max_throughput_eps} events/s (per process ${r.per_process_eps.join(' / ')}, main threads ${r.main_thread_pct.join(' / ')} %), p99 ${r.latency.p99_ms} ms at ${r.latency_rate_eps}/s; CPU % of one core: engines ${r.cpu_pct.engines}, broker ${r.cpu_pct.broker}, redis ${r.cpu_pct.redis}, machine ${r.cpu_pct.machine}`);
    results.push(r);
  }
  return { machine, results };
}

export function table(results: ProcessCountResult[]): string {
  const rows = [
    '| processes | workers each | max throughput (events/s) | per process | main thread % each | p50 ms | p99 ms | at events/s | CPU engines % | broker % | Redis % | machine % |',
    '| ---: | ---: | ---: | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const r of results) {
    rows.push(`| ${r.processes} | ${r.workers_per_process} | ${r.max_throughput_eps.toLocaleString('en-US')} | ${r.per_process_eps.join(' / ')} | ${r.main_thread_pct.join(' / ')} | ${r.latency.p50_ms} | ${r.latency.p99_ms} | ${r.latency_rate_eps.toLocaleString('en-US')} | ${r.cpu_pct.engines} | ${r.cpu_pct.broker} | ${r.cpu_pct.redis} | ${r.cpu_pct.machine} |`);
  }
  return rows.join('\n');
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  let opts: MultiProcessOptions | null;
  try {
    opts = parseOptions(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n${USAGE}\n`);
    process.exit(2);
  }
  if (!opts) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  const t0 = Date.now();
  runMultiProcess(opts).then(
    (out) => {
      process.stdout.write(`${table(out.results)}\n\n${JSON.stringify({ ...out, duration_s: Math.round((Date.now() - t0) / 1000) }, null, 2)}\n`);
      if (opts!.json) writeFileSync(opts!.json, JSON.stringify(out, null, 2));
      process.exit(0);
    },
    (err) => {
      process.stderr.write(`multi-process bench failed: ${(err as Error).stack ?? err}\n`);
      process.exit(1);
    },
  );
}
