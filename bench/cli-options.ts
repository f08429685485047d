import { availableParallelism } from 'node:os';
import type { Runtime } from './target-process.js';

export const SCENARIOS = ['rate-sweep', 'baselines', 'cpu-scaling', 'inference', 'micro-batching', 'exactly-once', 'multi-process'] as const;
export type ScenarioName = (typeof SCENARIOS)[number];

export interface BenchOptions {
  scenarios: ScenarioName[];
  quick: boolean;
  /** Measured seconds per step. */
  durationS: number;
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
  help: boolean;
}

export class UsageError extends Error {
  override name = 'UsageError';
}

export const USAGE = `npm run bench [-- options]

End-to-end latency and throughput of scorestream through the real Kafka broker and Redis,
with baselines, CPU scaling, inference-only and micro-batching figures.

  --scenario NAME[,NAME]  run only these: ${SCENARIOS.join(', ')} (default: all)
  --quick                 smoke run of every scenario with tiny durations (< 2 minutes)
  --duration SECONDS      measured time per rate step (default 8; --quick 1.5)
  --warmup SECONDS        unmeasured time at the start of each step (default 1; --quick 0.5)
  --rates A,B,C           rates (events/s) for every sweep instead of the automatic ladder
  --workers A,B,C         worker counts of cpu-scaling (default 1,2,4.. up to 2x CPUs)
  --budget MINUTES        start no new step after this long (default 13; --quick 3)
  --users N               distinct users, Zipf-distributed (default 10000)
  --partitions N          partitions of the input/output topics (default 4)
  --runtime compiled|tsx  run the engine compiled (default; built into .cache/bench-build) or from sources
  --no-build              do not compile first (reuse .cache/bench-build)
  --out DIR               where results go (default bench/results)
  --help                  this text

Writes DIR/<timestamp>.json, DIR/latest.json, DIR/latest.md and SVG charts in DIR.`;

function positive(name: string, v: string | undefined, integer = false): number {
  const n = Number(v);
  if (v === undefined || !Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n))) throw new UsageError(`${name} needs a positive ${integer ? 'integer' : 'number'}, got ${v ?? 'nothing'}`);
  return n;
}

function list(name: string, v: string | undefined): number[] {
  if (!v) throw new UsageError(`${name} needs a comma-separated list`);
  return v.split(',').map((x) => positive(name, x.trim(), true));
}

export function defaultWorkerCounts(cpus = availableParallelism()): number[] {
  const out = new Set<number>();
  for (let w = 1; w <= 2 * cpus; w *= 2) out.add(w);
  out.add(cpus);
  out.add(2 * cpus);
  return [...out].sort((a, b) => a - b);
}

export function parseOptions(argv: readonly string[]): BenchOptions {
  const o: BenchOptions = {
    scenarios: [...SCENARIOS],
    quick: false,
    durationS: NaN,
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
    help: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].includes('=') ? [argv[i].slice(0, argv[i].indexOf('=')), argv[i].slice(argv[i].indexOf('=') + 1)] : [argv[i], undefined];
    const value = (): string | undefined => inline ?? argv[++i];
    switch (flag) {
      case '--help':
      case '-h':
        o.help = true;
        break;
      case '--quick':
        o.quick = true;
        break;
      case '--scenario': {
        const names = (value() ?? '').split(',').filter(Boolean);
        for (const n of names) if (!(SCENARIOS as readonly string[]).includes(n)) throw new UsageError(`unknown scenario ${n}: one of ${SCENARIOS.join(', ')}`);
        if (!names.length) throw new UsageError('--scenario needs a name');
        o.scenarios = names as ScenarioName[];
        break;
      }
      case '--duration':
        o.durationS = positive(flag, value());
        break;
      case '--warmup':
        o.warmupS = positive(flag, value());
        break;
      case '--rates':
        o.rates = list(flag, value());
        break;
      case '--workers':
        o.workerCounts = list(flag, value());
        o.workersGiven = true;
        break;
      case '--budget':
        o.budgetMin = positive(flag, value());
        break;
      case '--users':
        o.users = positive(flag, value(), true);
        break;
      case '--partitions':
        o.partitions = positive(flag, value(), true);
        break;
      case '--runtime': {
        const v = value();
        if (v !== 'compiled' && v !== 'tsx') throw new UsageError(`--runtime is compiled or tsx, got ${v}`);
        o.runtime = v;
        break;
      }
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
  if (Number.isNaN(o.durationS)) o.durationS = o.quick ? 1.5 : 8;
  if (Number.isNaN(o.warmupS)) o.warmupS = o.quick ? 0.5 : 1;
  if (Number.isNaN(o.budgetMin)) o.budgetMin = o.quick ? 3 : 13;
  if (o.runtime === 'tsx') o.build = false;
  return o;
}
