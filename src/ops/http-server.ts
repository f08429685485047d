import { createServer, type Server } from 'node:http';
import type { Metrics } from './metrics.js';

export interface Health {
  /** Reasons the engine is not ready; empty when it is. */
  notReady(): Promise<string[]>;
}

/** /metrics (Prometheus), /healthz (alive, event loop not blocked), /readyz (can serve). */
export class HttpServer {
  private server: Server | null = null;
  private lagMs = 0;
  private probe: NodeJS.Timeout | null = null;

  constructor(private readonly metrics: Metrics, private readonly health: Health, private readonly maxLoopLagMs = 2000) {}

  async listen(port: number, host: string): Promise<number> {
    // Event-loop liveness: a timer that fires late means the loop was blocked that long.
    let expected = Date.now() + 100;
    this.probe = setInterval(() => {
      const now = Date.now();
      this.lagMs = Math.max(0, now - expected);
      expected = now + 100;
    }, 100);
    this.probe.unref();
    this.server = createServer((req, res) => {
      void this.handle(req.url ?? '/').then(
        ({ status, type, body }) => {
          res.writeHead(status, { 'content-type': type });
          res.end(body);
        },
        (err: Error) => {
          res.writeHead(500, { 'content-type': 'text/plain' });
          res.end(err.message);
        },
      );
    });
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(port, host, () => resolve());
    });
    const addr = this.server.address();
    return typeof addr === 'object' && addr ? addr.port : port;
  }

  private async handle(url: string): Promise<{ status: number; type: string; body: string }> {
    const path = url.split('?')[0];
    if (path === '/metrics') return { status: 200, type: this.metrics.registry.contentType, body: await this.metrics.registry.metrics() };
    if (path === '/healthz') {
      const ok = this.lagMs < this.maxLoopLagMs;
      return { status: ok ? 200 : 503, type: 'application/json', body: JSON.stringify({ status: ok ? 'ok' : 'event loop blocked', event_loop_lag_ms: this.lagMs }) };
    }
    if (path === '/readyz') {
      const reasons = await this.health.notReady();
      return { status: reasons.length ? 503 : 200, type: 'application/json', body: JSON.stringify({ ready: reasons.length === 0, reasons }) };
    }
    return { status: 404, type: 'text/plain', body: 'not found: try /metrics, /healthz, /readyz\n' };
  }

  async close(): Promise<void> {
    if (this.probe) clearInterval(this.probe);
    if (this.server) await new Promise<void>((r) => this.server!.close(() => r()));
  }
}
