// Runs the engine as users do: a separate process (`node --import tsx src/main.ts`), configured
// by environment variables, observed through its /metrics and /readyz endpoints.
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface EngineProcess {
  child: ChildProcess;
  port: number;
  /** Everything the process wrote to stdout / stderr so far. */
  stdout(): string;
  stderr(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Polls /readyz until it answers 200. */
  waitReady(timeoutMs?: number): Promise<void>;
  metrics(): Promise<string>;
  /** Value of one series in /metrics (sum over label sets when `labels` is omitted). */
  metric(name: string, labels?: Record<string, string>): Promise<number>;
  /** SIGTERM (graceful) and wait for exit. */
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGKILL and wait for exit. */
  kill9(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** Value of one series in a Prometheus text exposition (sum over label sets matching `labels`, all when omitted). */
export function metricValue(text: string, name: string, labels?: Record<string, string>): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-zA-Z_:][\w:]*)(\{([^}]*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    if (labels) {
      const ls = Object.fromEntries((m[3] ?? '').split(',').filter(Boolean).map((kv) => { const i = kv.indexOf('='); return [kv.slice(0, i), JSON.parse(kv.slice(i + 1))]; }));
      if (!Object.entries(labels).every(([k, v]) => ls[k] === v)) continue;
    }
    sum += Number(m[4]);
  }
  return sum;
}

export interface SpawnOptions {
  /** Command the engine runs under, e.g. `ip netns exec <ns>` (NetNamespace.exec). */
  prefix?: string[];
  /** Where its metrics server is reached (with METRICS_HOST set to the same address); default 127.0.0.1. */
  host?: string;
}

export async function startEngine(env: Record<string, string>, args: string[] = [], o: SpawnOptions = {}): Promise<EngineProcess> {
  const port = env.METRICS_PORT ? Number(env.METRICS_PORT) : await freePort();
  const argv = [...(o.prefix ?? []), process.execPath, '--import', 'tsx', 'src/main.ts', ...args];
  const child = spawn(argv[0], argv.slice(1), {
    cwd: ROOT,
    env: { ...process.env, LOG_LEVEL: 'info', STATUS_LINE: 'off', ...env, METRICS_PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (err += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  let done = false;
  void exited.then(() => (done = true));
  const base = `http://${o.host ?? '127.0.0.1'}:${port}`;
  const proc: EngineProcess = {
    child,
    port,
    stdout: () => out,
    stderr: () => err,
    exited,
    async waitReady(timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      let last = '';
      while (Date.now() < deadline) {
        if (done) throw new Error(`engine exited before it was ready:\n${err.slice(-3000)}`);
        try {
          const r = await fetch(`${base}/readyz`);
          last = await r.text();
          if (r.status === 200) return;
        } catch (e) {
          last = (e as Error).message;
        }
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error(`engine not ready after ${timeoutMs} ms (last /readyz: ${last}):\n${err.slice(-3000)}`);
    },
    async metrics() {
      const r = await fetch(`${base}/metrics`);
      return r.text();
    },
    async metric(name, labels) {
      return metricValue(await proc.metrics(), name, labels);
    },
    async stop(signal = 'SIGTERM') {
      if (!done) child.kill(signal);
      return exited;
    },
    async kill9() {
      if (!done) child.kill('SIGKILL');
      await exited;
    },
  };
  return proc;
}

/**
 * Runs the engine to completion (for runs expected to exit by themselves: --input files, bad
 * settings). `unset` names environment variables of this process the engine must not inherit.
 */
export function runToExit(env: Record<string, string>, args: string[] = [], unset: string[] = []): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const base: NodeJS.ProcessEnv = { ...process.env };
    for (const k of unset) delete base[k];
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', ...args], {
      cwd: ROOT,
      env: { ...base, METRICS_PORT: '0', LOG_LEVEL: 'info', STATUS_LINE: 'off', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d) => (stdout += d));
    child.stderr!.on('data', (d) => (stderr += d));
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}
