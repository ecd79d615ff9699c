import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PROMETHEUS_CONTENT_TYPE, type Registry } from '@connlog/metrics';
import { formatHostPort, parseHostPort } from '../config/address.js';
import { AgentError, describeError } from '../errors.js';

export interface Health {
  ok: boolean;
  nats: { connected: boolean };
  spool: { batches: number; bytes: number };
  sessionsOpen: number;
  recording: boolean;
}

/** `/healthz` (JSON) and `/metrics` (Prometheus text). Nothing else. */
export class HttpServer {
  private readonly server: Server;
  private boundAddress = '';

  constructor(
    private readonly registry: Registry,
    private readonly health: () => Health,
  ) {
    this.server = createServer((req, res) => this.handle(req, res));
    this.server.keepAliveTimeout = 5000;
  }

  get address(): string {
    return this.boundAddress;
  }

  async listen(listen: string): Promise<string> {
    const address = parseHostPort(listen);
    if (address === undefined) throw new AgentError('CONFIG_INVALID', `http.listen: bad address`);
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error): void =>
        reject(
          new AgentError(
            'HTTP_LISTEN',
            `http.listen: cannot listen on ${listen}: ${describeError(err)}`,
            {
              cause: err,
            },
          ),
        );
      this.server.once('error', onError);
      this.server.listen({ host: address.host, port: address.port }, () => {
        this.server.off('error', onError);
        resolve();
      });
    });
    const bound = this.server.address() as AddressInfo;
    this.boundAddress = formatHostPort(bound.address, bound.port);
    return this.boundAddress;
  }

  async close(): Promise<void> {
    if (!this.server.listening) return;
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    if (path === '/metrics') {
      res.writeHead(200, { 'content-type': PROMETHEUS_CONTENT_TYPE }).end(this.registry.render());
      return;
    }
    if (path === '/healthz') {
      const health = this.health();
      res
        .writeHead(health.ok ? 200 : 503, { 'content-type': 'application/json' })
        .end(JSON.stringify(health));
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
  }
}
