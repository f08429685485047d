// A network namespace joined to the host by a veth pair, for network-fault tests (root only; CI
// runs as root). Addresses are a private /30 on the veth pair, reachable only inside this
// machine. cut() takes the link down (no carrier either side: packets go nowhere, TCP connections
// hang as in a real partition, nothing is reset); heal() brings it back. (This kernel has no
// netem qdisc, so delay and loss are not done with tc: see test/kit/delay-proxy.ts.)
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';

export class NetnsError extends Error {}

const run = (...args: string[]) => execFileSync(args[0], args.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });

const live = new Set<NetNamespace>();
process.once('exit', () => {
  for (const n of live) n.destroy();
});

export class NetNamespace {
  private cutNow = false;

  private constructor(
    readonly name: string,
    readonly hostIf: string,
    readonly nsIf: string,
    readonly hostIp: string,
    readonly nsIp: string,
  ) {}

  static create(): NetNamespace {
    if (process.getuid?.() !== 0) throw new NetnsError('network namespace tests need root (ip netns, tc): run as root, as CI does');
    const id = randomBytes(3).toString('hex');
    const octet = 1 + (randomBytes(1)[0] % 250);
    const third = randomBytes(1)[0] % 64;
    const n = new NetNamespace(`ssnet-${id}`, `ssh${id}`, `ssn${id}`, `10.251.${third}.${octet & ~3 | 1}`, `10.251.${third}.${octet & ~3 | 2}`);
    try {
      run('ip', 'netns', 'add', n.name);
      live.add(n);
      run('ip', 'link', 'add', n.hostIf, 'type', 'veth', 'peer', 'name', n.nsIf);
      run('ip', 'link', 'set', n.nsIf, 'netns', n.name);
      run('ip', 'addr', 'add', `${n.hostIp}/30`, 'dev', n.hostIf);
      run('ip', 'link', 'set', n.hostIf, 'up');
      n.inNs('ip', 'addr', 'add', `${n.nsIp}/30`, 'dev', n.nsIf);
      n.inNs('ip', 'link', 'set', n.nsIf, 'up');
      n.inNs('ip', 'link', 'set', 'lo', 'up');
    } catch (err) {
      n.destroy();
      throw new NetnsError(`creating network namespace ${n.name}: ${(err as { stderr?: string }).stderr ?? (err as Error).message}`);
    }
    return n;
  }

  /** argv prefix that runs a command inside the namespace. */
  get exec(): string[] {
    return ['ip', 'netns', 'exec', this.name];
  }

  private inNs(...args: string[]): string {
    return run(...this.exec, ...args);
  }

  /** The link goes down: nothing passes either way. */
  cut(): void {
    run('ip', 'link', 'set', this.hostIf, 'down');
    this.cutNow = true;
  }

  heal(): void {
    if (!this.cutNow) return;
    run('ip', 'link', 'set', this.hostIf, 'up');
    this.cutNow = false;
  }

  /** Deletes the namespace (and with it the veth pair). */
  destroy(): void {
    live.delete(this);
    try {
      run('ip', 'netns', 'del', this.name);
    } catch {
      // already gone
    }
    try {
      run('ip', 'link', 'del', this.hostIf);
    } catch {
      // went with the namespace
    }
  }
}
