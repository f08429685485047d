// A redis-server of the test's own on a free port (never the shared one on 6379): without
// persistence, in its own directory, stopped/killed and started again on the same port for
// outage tests; extra arguments for password, ACL user or TLS.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis, type RedisOptions } from 'ioredis';
import { killOnExit } from './children.js';
import { freePort } from './engine-process.js';

export interface RedisServerOptions {
  /** More redis-server arguments (e.g. --requirepass, --tls-port). Relative paths are in `dir`. */
  args?: (dir: string) => string[];
  /** Client options for the readiness PING (e.g. the password). */
  ping?: RedisOptions;
  /** Called with `dir` before the first start (e.g. to write certificates there). */
  prepare?: (dir: string) => void;
}

export class RedisServer {
  private child: ChildProcess | null = null;
  private exited: Promise<void> = Promise.resolve();

  private constructor(readonly port: number, readonly dir: string, private readonly opts: RedisServerOptions) {}

  /** Picks a free port and a directory; start() runs it. */
  static async create(opts: RedisServerOptions = {}): Promise<RedisServer> {
    const dir = mkdtempSync(join(tmpdir(), 'scorestream-redis-'));
    opts.prepare?.(dir);
    return new RedisServer(await freePort(), dir, opts);
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.child !== null;
  }

  /** Starts it (same port, same directory every time) and resolves when it answers PING. */
  async start(timeoutMs = 10_000): Promise<void> {
    const args = ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', this.dir, ...(this.opts.args?.(this.dir) ?? [])];
    const child = spawn('redis-server', args, { cwd: this.dir, stdio: 'ignore' });
    this.child = child;
    killOnExit(child);
    this.exited = new Promise((r) =>
      child.once('exit', () => {
        if (this.child === child) this.child = null;
        r();
      }),
    );
    const deadline = Date.now() + timeoutMs;
    let last = '';
    while (Date.now() < deadline) {
      if (!this.child) throw new Error(`redis-server on port ${this.port} exited during start`);
      const c = new Redis({ host: '127.0.0.1', port: this.port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false, ...this.opts.ping });
      c.on('error', () => {});
      try {
        await c.connect();
        if ((await c.ping()) === 'PONG') return;
      } catch (err) {
        last = (err as Error).message;
      } finally {
        c.disconnect();
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error(`redis-server on port ${this.port} did not answer PING within ${timeoutMs} ms (${last})`);
  }

  /** Graceful stop (SIGTERM); resolves when it is gone. */
  async stop(): Promise<void> {
    this.child?.kill('SIGTERM');
    await this.exited;
  }

  /** Crash stop (SIGKILL). */
  async kill(): Promise<void> {
    this.child?.kill('SIGKILL');
    await this.exited;
  }

  /** Kills it and deletes its directory. */
  async destroy(): Promise<void> {
    await this.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
