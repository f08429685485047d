import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { BUILD_DIR } from '../build.js';
import { ROOT } from '../services.js';
import type { Runtime } from '../target-process.js';
import type { BacklogDone, FromHarness, HarnessInit, HarnessStats, StepLatency, StepSent, ToHarness } from './protocol.js';

/** How the harness generates and reads (see protocol.ts). */
export type HarnessSettings = Pick<HarnessInit, 'tickMs' | 'fetchWaitMs' | 'client'>;

/** 5 ms ticks: on this kind of VM each wake-up and socket write costs tens of µs of CPU, so the
 * generator makes at most 200 produce requests a second. Events are scheduled on the ticks (bursts,
 * as from producers with linger.ms = 5), so the tick adds no wait to the measured latency. */
export const DEFAULT_HARNESS: HarnessSettings = { tickMs: 5, fetchWaitMs: 20, client: 'wire' };

export class HarnessError extends Error {
  override name = 'HarnessError';
}

const SCRIPT: Record<Runtime, string> = {
  compiled: `${BUILD_DIR}/bench/harness/harness-process.js`,
  tsx: 'bench/harness/harness-process.ts',
};

/**
 * The load harness (generator + latency reader) as a separate process, so its CPU is read from
 * /proc apart from the bench's own bookkeeping and the process under test. Optionally pinned to
 * `cpus` with taskset (the cpu-scaling layout).
 */
export class Harness {
  private readonly waiting: { resolve: (m: FromHarness) => void; reject: (e: Error) => void }[] = [];
  private readonly stepWaiters = new Map<number, (m: StepSent) => void>();
  private backlogWaiter: ((m: BacklogDone) => void) | null = null;
  private failure: Error | null = null;
  private err = '';
  /** Called when a step's measured window opens and closes. */
  onEdge: ((step: number, edge: 'start' | 'end') => void) | null = null;
  readonly ready: Promise<void>;
  readonly exited: Promise<void>;

  private constructor(private readonly child: ChildProcess) {
    let readyResolve!: () => void;
    let readyReject!: (e: Error) => void;
    this.ready = new Promise((res, rej) => ((readyResolve = res), (readyReject = rej)));
    this.ready.catch(() => {});
    child.stderr!.on('data', (d: Buffer) => (this.err = (this.err + d.toString()).slice(-4000)));
    child.stdout!.resume();
    child.on('message', (m: FromHarness) => {
      if (m.t === 'edge') this.onEdge?.(m.step, m.edge);
      else if (m.t === 'ready') readyResolve();
      else if (m.t === 'error') {
        this.failure = new HarnessError(`load harness: ${m.message}`);
        readyReject(this.failure);
      } else if (m.t === 'sent') this.stepWaiters.get(m.step)?.(m);
      else if (m.t === 'backlog-done') this.backlogWaiter?.(m);
      else this.waiting.shift()?.resolve(m);
    });
    this.exited = new Promise((resolve) =>
      child.once('exit', (code, signal) => {
        if (code !== 0) {
          this.failure ??= new HarnessError(`load harness exited (${code ?? signal}): ${this.err.slice(-2000)}`);
          readyReject(this.failure);
        }
        for (const w of this.waiting.splice(0)) w.reject(this.failure ?? new HarnessError('load harness exited'));
        resolve();
      }),
    );
  }

  static start(init: HarnessInit, runtime: Runtime, cpus: string | null = null): Harness {
    const script = SCRIPT[runtime];
    if (!existsSync(`${ROOT}/${script}`)) throw new HarnessError(`${script} not found (the bench compiles it unless --no-build)`);
    // BENCH_HARNESS_NODE_ARGS (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof") profiles the harness itself.
    const extra = (process.env.BENCH_HARNESS_NODE_ARGS ?? '').split(' ').filter(Boolean);
    // A larger young generation: fewer scavenges of the per-event garbage (fewer pauses, less CPU).
    const node = ['--max-semi-space-size=32', ...extra, ...(runtime === 'tsx' ? ['--import', 'tsx'] : []), script];
    const [cmd, args] = cpus ? ['taskset', ['-c', cpus, process.execPath, ...node]] : [process.execPath, node];
    const child = spawn(cmd, args, { cwd: ROOT, env: { ...process.env, BENCH_HARNESS_INIT: JSON.stringify(init) }, stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
    return new Harness(child);
  }

  get pid(): number {
    return this.child.pid!;
  }

  get error(): Error | null {
    return this.failure;
  }

  private post(m: ToHarness): void {
    if (this.failure) throw this.failure;
    this.child.send(m);
  }

  private ask<T extends FromHarness>(m: ToHarness): Promise<T> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ resolve: (r) => resolve(r as T), reject });
      try {
        this.post(m);
      } catch (e) {
        this.waiting.pop();
        reject(e as Error);
      }
    });
  }

  /** Runs one open-loop step; resolves once every event of it has been sent and acknowledged. */
  step(step: number, rate: number, warmupMs: number, durationMs: number): Promise<StepSent> {
    return new Promise((resolve, reject) => {
      this.stepWaiters.set(step, (r) => {
        this.stepWaiters.delete(step);
        resolve(r);
      });
      void this.exited.then(() => reject(this.failure ?? new HarnessError('load harness exited')));
      this.post({ t: 'step', step, rate, warmupMs, durationMs });
    });
  }

  /** Produces `count` events as fast as the broker takes them. */
  backlog(count: number): Promise<BacklogDone> {
    return new Promise((resolve, reject) => {
      this.backlogWaiter = resolve;
      void this.exited.then(() => reject(this.failure ?? new HarnessError('load harness exited')));
      this.post({ t: 'backlog', count });
    });
  }

  stats(): Promise<HarnessStats> {
    return this.ask<HarnessStats>({ t: 'stats' });
  }

  /** Closes a step's window now: whatever of it is still missing is recorded at this cut-off. */
  finish(step: number): Promise<StepLatency> {
    return this.ask<StepLatency>({ t: 'finish', step });
  }

  async close(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    try {
      this.child.send({ t: 'close' } satisfies ToHarness);
    } catch {
      // Channel already closed: the kill below ends it.
    }
    const t = setTimeout(() => this.child.kill('SIGKILL'), 5000);
    await this.exited;
    clearTimeout(t);
  }
}
