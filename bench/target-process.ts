import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { BUILD_DIR } from './build.js';
import { ROOT } from './services.js';
import { freePort, metricValue } from '../test/kit/engine-process.js';

/** What consumes the input topic and writes the output topic: the engine or a baseline. */
export type TargetKind = 'engine' | 'passthrough' | 'passthrough-platformatic' | 'naive';

/** compiled: node on the compiled JS (what users run; the default). tsx: from the sources. */
export type Runtime = 'compiled' | 'tsx';

export class TargetProcessError extends Error {
  override name = 'TargetProcessError';
}

const SCRIPTS: Record<TargetKind, { compiled: string; tsx: string }> = {
  engine: { compiled: `${BUILD_DIR}/src/main.js`, tsx: 'src/main.ts' },
  passthrough: { compiled: `${BUILD_DIR}/bench/baselines/passthrough.js`, tsx: 'bench/baselines/passthrough.ts' },
  'passthrough-platformatic': { compiled: `${BUILD_DIR}/bench/baselines/passthrough-platformatic.js`, tsx: 'bench/baselines/passthrough-platformatic.ts' },
  naive: { compiled: `${BUILD_DIR}/bench/baselines/naive-consumer.js`, tsx: 'bench/baselines/naive-consumer.ts' },
};

/** Line a baseline prints on stdout once its consumer has joined the group. */
export const BASELINE_READY_LINE = 'bench-baseline-ready';

/**
 * The process under test, started as users start it (a separate process configured by env),
 * observed through /proc and, for the engine, its /metrics.
 */
export class TargetProcess {
  private out = '';
  private err = '';
  private exitInfo: { code: number | null; signal: NodeJS.Signals | null } | null = null;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  private constructor(readonly kind: TargetKind, readonly child: ChildProcess, readonly metricsPort: number | null) {
    child.stdout!.on('data', (d: Buffer) => (this.out = (this.out + d.toString()).slice(-20000)));
    child.stderr!.on('data', (d: Buffer) => (this.err = (this.err + d.toString()).slice(-20000)));
    this.exited = new Promise((resolve) =>
      child.once('exit', (code, signal) => {
        this.exitInfo = { code, signal };
        resolve(this.exitInfo);
      }),
    );
  }

  /** `cpus`: a taskset -c list to pin the process to (the cpu-scaling layout), or null. */
  static async start(kind: TargetKind, runtime: Runtime, env: Record<string, string>, cpus: string | null = null): Promise<TargetProcess> {
    const script = SCRIPTS[kind][runtime];
    if (!existsSync(`${ROOT}/${script}`)) throw new TargetProcessError(`${script} not found (the bench compiles it unless --no-build; or use --runtime tsx)`);
    const metricsPort = kind === 'engine' ? await freePort() : null;
    // BENCH_NODE_ARGS (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof") goes to every target process.
    const extra = (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);
    const args = [...extra, ...(runtime === 'tsx' ? ['--import', 'tsx', script] : [script])];
    // taskset execs node, so the child's pid is the engine's.
    const [cmd, argv] = cpus ? ['taskset', ['-c', cpus, process.execPath, ...args]] : [process.execPath, args];
    const child = spawn(cmd, argv, {
      cwd: ROOT,
      env: { ...process.env, LOG_LEVEL: 'warn', STATUS_LINE: 'off', ...env, ...(metricsPort ? { METRICS_PORT: String(metricsPort) } : {}) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    // A bench ended by Ctrl-C (process.exit in run.ts) takes its targets with it.
    const kill = (): void => void child.kill('SIGKILL');
    process.on('exit', kill);
    child.once('exit', () => process.off('exit', kill));
    return new TargetProcess(kind, child, metricsPort);
  }

  get pid(): number {
    return this.child.pid!;
  }

  get alive(): boolean {
    return this.exitInfo === null;
  }

  stderrTail(chars = 2000): string {
    return this.err.slice(-chars);
  }

  /** The engine: /readyz answers 200. A baseline: it printed its ready line. */
  async waitReady(timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (!this.alive) throw new TargetProcessError(`${this.kind} exited before it was ready (${JSON.stringify(this.exitInfo)}):\n${this.stderrTail()}`);
      if (this.metricsPort) {
        try {
          const r = await fetch(`http://127.0.0.1:${this.metricsPort}/readyz`);
          await r.text();
          if (r.status === 200) return;
        } catch {
          // Not listening yet.
        }
      } else if (this.out.includes(BASELINE_READY_LINE)) {
        return;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new TargetProcessError(`${this.kind} not ready after ${timeoutMs} ms:\n${this.stderrTail()}`);
  }

  /** Sum of each named series in /metrics (over all label sets); empty for baselines. */
  async metrics(names: readonly string[]): Promise<Record<string, number>> {
    const out: Record<string, number> = Object.fromEntries(names.map((n) => [n, 0]));
    if (!this.metricsPort || !this.alive) return out;
    try {
      const text = await (await fetch(`http://127.0.0.1:${this.metricsPort}/metrics`)).text();
      for (const n of names) out[n] = metricValue(text, n);
    } catch {
      // Metrics unavailable: counts stay 0 and the reader's own counts still stand.
    }
    return out;
  }

  /** SIGTERM (the engine drains and commits), SIGKILL if it takes longer than `graceMs`. */
  async stop(graceMs = 15_000): Promise<void> {
    if (!this.alive) return;
    this.child.kill('SIGTERM');
    const t = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(t);
  }
}
