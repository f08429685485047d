// A TCP proxy that reads the Kafka protocol's framing, to lose the broker's reply to one kind of
// request on demand: the broker has handled the request, the client never learns the outcome,
// the connection dies (what a network cut right after the request does). Paths a real broker
// never takes on its own, such as a transaction commit whose outcome is unknown, become testable.
// Requests are framed as int32 size, int16 api key, int16 api version, int32 correlation id;
// replies as int32 size, int32 correlation id (the request's).
import { EventEmitter, once } from 'node:events';
import { createServer, connect, type Server, type Socket } from 'node:net';

/** Kafka API keys a test may lose the replies of. */
export const ApiKey = { Produce: 0, OffsetCommit: 8, InitProducerId: 22, AddPartitionsToTxn: 24, AddOffsetsToTxn: 25, EndTxn: 26, TxnOffsetCommit: 28 } as const;

/** Splits a byte stream into size-prefixed frames; whatever follows the last whole frame waits for more. */
class Framer {
  private buf: Buffer = Buffer.alloc(0);
  push(chunk: Buffer, onFrame: (frame: Buffer) => void): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    while (this.buf.length >= 4) {
      const end = 4 + this.buf.readInt32BE(0);
      if (this.buf.length < end) return;
      onFrame(this.buf.subarray(0, end));
      this.buf = this.buf.subarray(end);
    }
  }
}

export class KafkaFrameProxy extends EventEmitter {
  /** Api key -> how many more of its replies to lose. */
  private readonly lose = new Map<number, number>();
  private readonly lost = new Map<number, number>();
  /** The replies lost, as received from the broker (for a test's failure message). */
  readonly lostFrames: Array<{ apiKey: number; apiVersion: number; frame: Buffer }> = [];
  private readonly sockets = new Set<Socket>();
  private constructor(private readonly server: Server) {
    super();
  }

  /** Listens on host:port and forwards every connection to targetHost:targetPort. */
  static async start(host: string, port: number, targetHost: string, targetPort: number): Promise<KafkaFrameProxy> {
    let proxy!: KafkaFrameProxy;
    const server = createServer((client) => proxy.relay(client, connect(targetPort, targetHost)));
    proxy = new KafkaFrameProxy(server);
    server.listen(port, host);
    await once(server, 'listening');
    return proxy;
  }

  /** From now on, the next `count` replies to requests of `apiKey` (default: all) are never delivered: their connection is cut instead. */
  loseReplies(apiKey: number, count = Infinity): void {
    this.lose.set(apiKey, count);
  }

  /** Replies to `apiKey` go through again. */
  deliverReplies(apiKey: number): void {
    this.lose.delete(apiKey);
  }

  /** How many replies to `apiKey` were lost so far. */
  lostReplies(apiKey: number): number {
    return this.lost.get(apiKey) ?? 0;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private relay(client: Socket, upstream: Socket): void {
    const kinds = new Map<number, [apiKey: number, apiVersion: number]>(); // requests in flight by correlation id
    const cut = (): void => {
      client.destroy();
      upstream.destroy();
    };
    for (const s of [client, upstream]) {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
      s.on('error', cut);
      s.on('end', cut);
    }
    const requests = new Framer();
    client.on('data', (chunk: Buffer) => {
      requests.push(chunk, (f) => {
        if (f.length >= 12) kinds.set(f.readInt32BE(8), [f.readInt16BE(4), f.readInt16BE(6)]);
      });
      upstream.write(chunk);
    });
    const replies = new Framer();
    upstream.on('data', (chunk: Buffer) => {
      replies.push(chunk, (f) => {
        if (client.destroyed) return;
        const id = f.length >= 8 ? f.readInt32BE(4) : -1;
        const kind = kinds.get(id);
        kinds.delete(id);
        if (kind && (this.lose.get(kind[0]) ?? 0) > 0) {
          const [apiKey, apiVersion] = kind;
          this.lose.set(apiKey, this.lose.get(apiKey)! - 1);
          this.lost.set(apiKey, this.lostReplies(apiKey) + 1);
          this.lostFrames.push({ apiKey, apiVersion, frame: Buffer.from(f) });
          cut();
          this.emit('lost', apiKey);
          return;
        }
        client.write(f);
      });
    });
  }
}
