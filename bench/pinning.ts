import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { availableParallelism } from 'node:os';

/**
 * CPU layout of the scaling experiment (taskset): the broker, Redis and the load harness on the
 * first core(s), the engine on the rest. The broker and Redis are shared services, so their
 * original affinity is restored afterwards, also when the bench exits early.
 */
export interface CpuLayout {
  /** taskset -c list for the engine. */
  engine: string;
  /** taskset -c list for the broker, Redis and the harness. */
  services: string;
  /** In words, for the report. */
  description: string;
}

const range = (a: number, b: number): string => (a === b ? `${a}` : `${a}-${b}`);

export function cpuLayout(cpus = availableParallelism()): CpuLayout | null {
  if (cpus < 2 || !tasksetAvailable()) return null;
  if (cpus < 4) {
    // The engine alone on one core could not show workers scaling: it gets every core and the
    // services are kept to the first one, so it shares that core with them.
    return { engine: range(0, cpus - 1), services: '0', description: `broker, Redis and harness on cpu 0; engine on cpus ${range(0, cpus - 1)} (with ${cpus} cores the engine cannot have cores of its own and still run 2 workers in parallel: it shares cpu 0)` };
  }
  const k = Math.max(1, Math.floor(cpus / 4));
  return { engine: range(k, cpus - 1), services: range(0, k - 1), description: `broker, Redis and harness on cpus ${range(0, k - 1)}; engine alone on cpus ${range(k, cpus - 1)}` };
}

function tasksetAvailable(): boolean {
  try {
    execFileSync('taskset', ['-p', String(process.pid)], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** A taskset -c list ("0", "1-3") as the hex mask taskset prints. */
function maskOfList(list: string): string {
  let m = 0;
  for (const part of list.split(',')) {
    const [a, b] = part.split('-').map(Number);
    for (let c = a; c <= (b ?? a); c++) m |= 1 << c;
  }
  return m.toString(16);
}

/** Current affinity mask of a process (hex, as taskset prints it), or null. */
function maskOf(pid: number): string | null {
  try {
    return /:\s*([0-9a-f]+)\s*$/i.exec(execFileSync('taskset', ['-p', String(pid)], { encoding: 'utf8' }).trim())?.[1] ?? null;
  } catch {
    return null;
  }
}

/** Pins every thread of `pid` to `cpuList`; returns a function restoring the previous mask. */
export function pinProcess(pid: number, cpuList: string): (() => void) | null {
  let before = maskOf(pid);
  if (!before) return null;
  // Already pinned to this very list: another bench run is pinning it now; restoring its pinned
  // mask after it restored would leave the broker on one core, so ours restores all cores.
  if (before === maskOfList(cpuList)) before = (2 ** availableParallelism() - 1).toString(16);
  try {
    execFileSync('taskset', ['-a', '-p', '-c', cpuList, String(pid)], { stdio: 'ignore' });
  } catch {
    return null;
  }
  // exit handlers run on process.exit and normal ends; SIGINT/SIGTERM are turned into exits in run.ts.
  return restorer(() => {
    try {
      execFileSync('taskset', ['-a', '-p', before, String(pid)], { stdio: 'ignore' });
    } catch {
      // The process is gone.
    }
  }, true);
}

/** `undo` as a function that runs once, also at process exit when `onExit` (and then only once). */
function restorer(undo: () => void, onExit: boolean): () => void {
  let restored = false;
  const restore = (): void => {
    if (restored) return;
    restored = true;
    process.off('exit', restore);
    undo();
  };
  if (onExit) process.on('exit', restore);
  return restore;
}

/** Nice value of one thread (field 19 of /proc/<pid>/task/<tid>/stat), or null. */
function niceOf(pid: number, tid: string): number | null {
  try {
    const s = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
    return Number(s.slice(s.lastIndexOf(')') + 2).split(' ')[16]);
  } catch {
    return null;
  }
}

/**
 * Gives every thread of `pid` the nice value `nice` (renice works per thread on Linux); returns a
 * function restoring each thread's previous value, or null when not permitted. The bench's own
 * processes and the broker and Redis run at a higher priority than other users' work on a shared
 * machine, so the measurement is less at the mercy of whatever else runs (it still runs).
 */
export function setNice(pid: number, nice: number, restoreOnExit = true): (() => void) | null {
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return null;
  }
  const before = new Map<number, string[]>();
  for (const tid of tids) {
    const n = niceOf(pid, tid);
    if (n === null || n === nice) continue;
    before.set(n, [...(before.get(n) ?? []), tid]);
  }
  const changed = [...before.values()].flat();
  if (!changed.length) return () => {};
  try {
    execFileSync('renice', ['-n', String(nice), '-p', ...changed], { stdio: 'ignore' });
  } catch {
    return null;
  }
  return restorer(() => {
    for (const [n, ts] of before) {
      try {
        execFileSync('renice', ['-n', String(n), '-p', ...ts], { stdio: 'ignore' });
      } catch {
        // Threads gone.
      }
    }
  }, restoreOnExit);
}
