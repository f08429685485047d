// A TCP proxy that makes a link slow and lossy, for the bad-network fault test where the kernel
// has no netem qdisc (this one has none). Every chunk is held `delayMs` in each direction, in
// order. Packet loss cannot be done on a TCP stream, so it is modelled by its effect on the
// application: with probability `lossPct`% a chunk (and everything behind it) waits one more
// retransmission timeout (`rtoMs`, Linux's minimum is 200 ms), as a lost segment would.
import { createServer, connect, type AddressInfo, type Server, type Socket } from 'node:net';

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

  // One FIFO per direction drained by one timer: separate timers per chunk can fire out of
  // order (their durations differ and libuv's clock is cached per loop turn), and a reordered
  // TCP stream is garbage to the Kafka decoder, which no real lossy link would ever produce.
  private pipe(from: Socket, to: Socket): void {
    const queue: Array<{ due: number; chunk: Buffer }> = [];
    let timer: NodeJS.Timeout | undefined;
    let ended = false;
    const drain = (): void => {
      timer = undefined;
      const now = Date.now();
      while (queue.length > 0 && queue[0].due <= now) to.write(queue.shift()!.chunk);
      if (queue.length > 0) timer = setTimeout(drain, queue[0].due - now);
      else if (ended) to.end();
    };
    from.on('data', (chunk: Buffer) => {
      const { delayMs, lossPct, rtoMs = 200 } = this.impairment;
      if (delayMs === 0 && lossPct === 0 && queue.length === 0) {
        to.write(chunk);
        return;
      }
      const lastDue = queue.length > 0 ? queue[queue.length - 1].due : 0;
      let due = Math.max(lastDue, Date.now() + delayMs);
      if (Math.random() * 100 < lossPct) due += rtoMs;
      queue.push({ due, chunk });
      if (timer === undefined) timer = setTimeout(drain, Math.max(0, queue[0].due - Date.now()));
    });
    from.on('end', () => {
      ended = true;
      if (queue.length === 0) to.end();
    });
  }

  /** The port listened on (useful when started on port 0). */
  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}
