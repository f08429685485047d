// A TCP proxy that makes a link slow and lossy, for the bad-network fault test where the kernel
// has no netem qdisc (this one has none). Every chunk is held `delayMs` in each direction, in
// order. Packet loss cannot be done on a TCP stream, so it is modelled by its effect on the
// application: with probability `lossPct`% a chunk (and everything behind it) waits one more
// retransmission timeout (`rtoMs`, Linux's minimum is 200 ms), as a lost segment would.
import { createServer, connect, type Server, type Socket } from 'node:net';

export interface Impairment {
  delayMs: number;
  lossPct: number;
  rtoMs?: number;
}

export class DelayProxy {
  private impairment: Impairment = { delayMs: 0, lossPct: 0 };
  private readonly sockets = new Set<Socket>();
  private constructor(private readonly server: Server) {}

  /** Listens on host:port and forwards every connection to targetHost:targetPort. */
  static async start(host: string, port: number, targetHost: string, targetPort: number): Promise<DelayProxy> {
    let proxy!: DelayProxy;
    const server = createServer((client) => {
      const upstream = connect(targetPort, targetHost);
      for (const s of [client, upstream]) {
        proxy.sockets.add(s);
        s.on('close', () => proxy.sockets.delete(s));
        s.on('error', () => {
          client.destroy();
          upstream.destroy();
        });
      }
      proxy.pipe(client, upstream);
      proxy.pipe(upstream, client);
    });
    proxy = new DelayProxy(server);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, resolve);
    });
    return proxy;
  }

  /** From now on (for new chunks); { delayMs: 0, lossPct: 0 } passes data straight through. */
  set(i: Impairment): void {
    this.impairment = i;
  }

  private pipe(from: Socket, to: Socket): void {
    let lastDue = 0;
    from.on('data', (chunk) => {
      const { delayMs, lossPct, rtoMs = 200 } = this.impairment;
      if (delayMs === 0 && lossPct === 0 && lastDue <= Date.now()) {
        to.write(chunk);
        return;
      }
      let due = Math.max(lastDue, Date.now() + delayMs);
      if (Math.random() * 100 < lossPct) due += rtoMs;
      lastDue = due;
      setTimeout(() => to.write(chunk), due - Date.now());
    });
    from.on('end', () => setTimeout(() => to.end(), Math.max(0, lastDue - Date.now())));
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}
