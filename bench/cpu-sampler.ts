import { readFileSync, readdirSync } from 'node:fs';
import { execFileSync } from 'node:child_process';

/**
 * CPU time from /proc: a whole process, each of its threads, and the machine. Linux only;
 * elsewhere every reading is null and the bench reports no CPU figures.
 */

let ticksPerSecond = 100;
try {
  ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
} catch {
  // 100 is the Linux default.
}

/** utime + stime in microseconds of /proc/<path>/stat, or null when it is gone. */
function statCpuUs(path: string): number | null {
  try {
    const s = readFileSync(path, 'utf8');
    // Fields after the parenthesised command name (which may hold spaces).
    const rest = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return ((Number(rest[11]) + Number(rest[12])) * 1e6) / ticksPerSecond;
  } catch {
    return null;
  }
}

export interface ProcessCpu {
  /** Whole process. */
  totalUs: number;
  /** tid → CPU µs of each thread. */
  threads: Map<number, number>;
}

export function readProcessCpu(pid: number): ProcessCpu | null {
  const totalUs = statCpuUs(`/proc/${pid}/stat`);
  if (totalUs === null) return null;
  const threads = new Map<number, number>();
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      const us = statCpuUs(`/proc/${pid}/task/${tid}/stat`);
      if (us !== null) threads.set(Number(tid), us);
    }
  } catch {
    // Threads unreadable: the total still stands.
  }
  return { totalUs, threads };
}

/** Busy and total jiffies of all CPUs (from the first line of /proc/stat), in µs. */
export function readMachineCpu(): { busyUs: number; totalUs: number } | null {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0];
    const v = line.trim().split(/\s+/).slice(1).map(Number);
    const total = v.reduce((a, b) => a + b, 0);
    const idle = v[3] + (v[4] ?? 0);
    return { busyUs: ((total - idle) * 1e6) / ticksPerSecond, totalUs: (total * 1e6) / ticksPerSecond };
  } catch {
    return null;
  }
}

export interface ThreadUse {
  tid: number;
  /** Percent of one core over the interval. */
  pct: number;
}

export interface ProcessUse {
  /** Percent of one core (200 = two cores busy). */
  pct: number;
  cpuUs: number;
  /** The main thread (tid = pid). */
  mainPct: number;
  mainCpuUs: number;
  /** Other threads, busiest first. */
  threads: ThreadUse[];
}

/** CPU used by a process between two readings over `wallUs`. */
export function processUse(pid: number, a: ProcessCpu | null, b: ProcessCpu | null, wallUs: number): ProcessUse | null {
  if (!a || !b || wallUs <= 0) return null;
  const cpuUs = b.totalUs - a.totalUs;
  const mainCpuUs = (b.threads.get(pid) ?? 0) - (a.threads.get(pid) ?? 0);
  const threads: ThreadUse[] = [];
  for (const [tid, us] of b.threads) {
    if (tid === pid) continue;
    const d = us - (a.threads.get(tid) ?? 0);
    if (d > 0) threads.push({ tid, pct: round1((d / wallUs) * 100) });
  }
  threads.sort((x, y) => y.pct - x.pct);
  return { pct: round1((cpuUs / wallUs) * 100), cpuUs, mainPct: round1((mainCpuUs / wallUs) * 100), mainCpuUs, threads };
}

export const round1 = (x: number): number => Math.round(x * 10) / 10;

/** Reads a set of named processes and the machine at once; `diff` turns two snapshots into usage. */
export class CpuSnapshot {
  readonly atUs: number;
  readonly machine: { busyUs: number; totalUs: number } | null;
  readonly procs = new Map<string, { pid: number; cpu: ProcessCpu | null }>();

  constructor(pids: Record<string, number | null | undefined>) {
    this.atUs = Number(process.hrtime.bigint() / 1000n);
    this.machine = readMachineCpu();
    for (const [name, pid] of Object.entries(pids)) if (pid) this.procs.set(name, { pid, cpu: readProcessCpu(pid) });
  }

  diff(later: CpuSnapshot): { wallUs: number; machineBusyPct: number | null; procs: Record<string, ProcessUse | null> } {
    const wallUs = later.atUs - this.atUs;
    const procs: Record<string, ProcessUse | null> = {};
    for (const [name, { pid, cpu }] of this.procs) procs[name] = processUse(pid, cpu, later.procs.get(name)?.cpu ?? null, wallUs);
    let machineBusyPct: number | null = null;
    if (this.machine && later.machine) {
      const total = later.machine.totalUs - this.machine.totalUs;
      // Percent of one core, like the per-process figures (200 = a 2-core machine fully busy).
      const cores = total > 0 ? total / wallUs : 1;
      machineBusyPct = total > 0 ? round1(((later.machine.busyUs - this.machine.busyUs) / total) * 100 * cores) : null;
    }
    return { wallUs, machineBusyPct, procs };
  }
}
