import { availableParallelism } from 'node:os';
import type { Runtime } from './target-process.js';

export const SCENARIOS = ['rate-sweep', 'baselines', 'cpu-scaling', 'inference', 'micro-batching', 'exactly-once', 'kafka-client', 'multi-process'] as const;
export type ScenarioName = (typeof SCENARIOS)[number];

export interface BenchOptions {
  scenarios: ScenarioName[];
  quick: boolean;
  /** Measured seconds per step; null: long enough for 10,000 events, at least 3 s, at most 10 s. */
  durationS: number | null;
  /** Unmeasured seconds at the start of every step. */
  warmupS: number;
  /** Explicit rates for every sweep (instead of the automatic ladder). */
  rates: number[] | null;
  outDir: string;
  runtime: Runtime;
  build: boolean;
  users: number;
  partitions: number;
  /** Minutes after which sweeps start no new step. */
  budgetMin: number;
  /** Worker counts of the CPU-scaling scenario. */
  workerCounts: number[];
  /** --workers was given (quick mode otherwise trims the list). */
  workersGiven: boolean;
  /** Runs of the default configuration's sweep (the spread of max sustainable across them). */
  repeat: number;
  /** Generator tick (ms) and harness Kafka client. */
  tickMs: number;
  harnessClient: 'wire' | 'platformatic' | 'kafkajs';
  /** Events in the backlog of each cpu-scaling drain. */
  backlog: number;
  /** Nice value of the processes under test, the harness, the broker and Redis (0: unchanged). */
  nice: number;
  help: boolean;
  /** Basename of the results: latest (a full run), quick or partial. */
  resultName: 'latest' | 'quick' | 'partial';
}

export class UsageError extends Error {
  override name = 'UsageError';
}

export const USAGE = `npm run bench [-- options]

End-to-end latency and throughput of scorestream through the real Kafka broker and Redis,
with baselines, CPU scaling, inference-only and micro-batching figures.

  --scenario NAME[,NAME]  run only these: ${SCENARIOS.join(', ')} (default: all)
  --quick                 smoke run of every scenario with tiny durations (< 2 minutes)
  --duration SECONDS      measured time per rate step (default: 10,000 events' worth, 3-10 s; --quick 1.5)
  --warmup SECONDS        unmeasured time at the start of each step (default 1; --quick 0.5); every
                          process also gets an unmeasured warm-up step before its first step
  --repeat N              runs of the default configuration's sweep, reported min/median/max (default 3; --quick 1)
  --rates A,B,C           rates (events/s) for every sweep instead of the automatic ladder
  --workers A,B,C         worker counts of cpu-scaling (default 1..CPUs)
  --backlog N             events each cpu-scaling drain starts with (default 100000; --quick 10000)
  --tick-ms MS            load generator tick: one produce request per tick at most (default 5)
  --harness-client NAME   the harness's Kafka client: wire (default: the wire protocol written for the
                          bench, lightest), platformatic (@platformatic/kafka) or kafkajs
  --nice N                nice value of the engine, baselines, harness, broker and Redis during the run
                          (default -10, restored afterwards; 0: leave priorities alone)
  --budget MINUTES        start no new step after this long (default 25; --quick 3)
  --users N               distinct users, Zipf-distributed (default 10000)
  --partitions N          partitions of the input/output topics (default 4)
  --runtime compiled|tsx  run the engine compiled (default; built into .cache/bench-build) or from sources
  --no-build              do not compile first (reuse .cache/bench-build)
  --out DIR               where results go (default bench/results)
  --help                  this text

A full run (no --quick, --scenario, --rates, --duration, --workers) writes DIR/latest.json,
DIR/latest.md and the SVG charts; --quick writes DIR/quick.*, any other partial run DIR/partial.*
(and the charts with that prefix), so they never replace the committed full-run results.
Every run also writes DIR/<timestamp>.json.`;

function positive(name: string, v: string | undefined, integer = false): number {
  const n = Number(v);
  if (v === undefined || !Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n))) throw new UsageError(`${name} needs a positive ${integer ? 'integer' : 'number'}, got ${v ?? 'nothing'}`);
  return n;
}

function list(name: string, v: string | undefined): number[] {
  if (!v) throw new UsageError(`${name} needs a comma-separated list`);
  return v.split(',').map((x) => positive(name, x.trim(), true));
}

function oneOf<T extends string>(name: string, v: string | undefined, choices: readonly T[]): T {
  if (!(choices as readonly (string | undefined)[]).includes(v)) throw new UsageError(`${name} is ${choices.join(' or ')}, got ${v}`);
  return v as T;
}

type NumberKey = 'repeat' | 'tickMs' | 'backlog' | 'durationS' | 'warmupS' | 'budgetMin' | 'users' | 'partitions';
interface NumberFlag {
  key: NumberKey;
  integer?: boolean;
  /** Giving it makes the run partial (results not written as latest). */
  partial?: boolean;
}

/** The options that take one positive number. */
const NUMBER_FLAGS = {
  '--repeat': { key: 'repeat', integer: true },
  '--tick-ms': { key: 'tickMs' },
  '--backlog': { key: 'backlog', integer: true },
  '--duration': { key: 'durationS', partial: true },
  '--warmup': { key: 'warmupS' },
  '--budget': { key: 'budgetMin' },
  '--users': { key: 'users', integer: true },
  '--partitions': { key: 'partitions', integer: true },
} satisfies Record<string, NumberFlag>;

export function defaultWorkerCounts(cpus = availableParallelism()): number[] {
  return Array.from({ length: Math.max(1, cpus) }, (_, i) => i + 1);
}

export function parseOptions(argv: readonly string[]): BenchOptions {
  const o: BenchOptions = {
    scenarios: [...SCENARIOS],
    quick: false,
    durationS: null,
    warmupS: NaN,
    rates: null,
    outDir: 'bench/results',
    runtime: 'compiled',
    build: true,
    users: 10_000,
    partitions: 4,
    budgetMin: NaN,
    workerCounts: defaultWorkerCounts(),
    workersGiven: false,
    repeat: NaN,
    tickMs: 5,
    harnessClient: 'wire',
    backlog: NaN,
    nice: -10,
    help: false,
    resultName: 'latest',
  };
  let partial = false;
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].includes('=') ? [argv[i].slice(0, argv[i].indexOf('=')), argv[i].slice(argv[i].indexOf('=') + 1)] : [argv[i], undefined];
    const value = (): string | undefined => inline ?? argv[++i];
    if (Object.hasOwn(NUMBER_FLAGS, flag)) {
      const f: NumberFlag = NUMBER_FLAGS[flag as keyof typeof NUMBER_FLAGS];
      o[f.key] = positive(flag, value(), f.integer);
      if (f.partial) partial = true;
      continue;
    }
    switch (flag) {
      case '--help':
      case '-h':
        o.help = true;
        break;
      case '--quick':
        o.quick = true;
        break;
      case '--harness-client':
        o.harnessClient = oneOf(flag, value(), ['wire', 'platformatic', 'kafkajs']);
        break;
      case '--runtime':
        o.runtime = oneOf(flag, value(), ['compiled', 'tsx']);
        break;
      case '--scenario': {
        const names = (value() ?? '').split(',').filter(Boolean);
        for (const n of names) if (!(SCENARIOS as readonly string[]).includes(n)) throw new UsageError(`unknown scenario ${n}: one of ${SCENARIOS.join(', ')}`);
        if (!names.length) throw new UsageError('--scenario needs a name');
        o.scenarios = names as ScenarioName[];
        partial = true;
        break;
      }
      case '--rates':
        o.rates = list(flag, value());
        partial = true;
        break;
      case '--workers':
        o.workerCounts = list(flag, value());
        o.workersGiven = true;
        partial = true;
        break;
      case '--no-build':
        o.build = false;
        break;
      case '--out':
        o.outDir = value() ?? '';
        if (!o.outDir) throw new UsageError('--out needs a directory');
        break;
      default:
        throw new UsageError(`unknown option ${argv[i]} (see --help)`);
    }
  }
  if (o.durationS === null && o.quick) o.durationS = 1.5;
  if (Number.isNaN(o.warmupS)) o.warmupS = o.quick ? 0.5 : 1;
  if (Number.isNaN(o.budgetMin)) o.budgetMin = o.quick ? 3 : 25;
  if (Number.isNaN(o.repeat)) o.repeat = o.quick ? 1 : 3;
  if (Number.isNaN(o.backlog)) o.backlog = o.quick ? 10_000 : 100_000;
  o.resultName = o.quick ? 'quick' : partial ? 'partial' : 'latest';
  if (o.runtime === 'tsx') o.build = false;
  return o;
}
