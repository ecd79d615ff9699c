import { createServer } from 'node:http';
import type { IncomingMessage, RequestListener, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from '@connlog/metrics';
import type { Logger } from 'pino';
import type { SessionRow, Store } from '../store/store.js';
import { CollectorError } from '../errors.js';
import { allowAll } from './auth.js';
import type { Authenticator, Principal } from './auth.js';
import { ApiConfigError, ApiError, SqlEndpointError } from './errors.js';
import { sendApiError } from './http.js';
import { matchRoute } from './router.js';
import type { Route } from './router.js';
import { createRoutes } from './routes/index.js';
import { sendClickHouseError } from './routes/sql.js';
import { createApiTelemetry } from './telemetry.js';
import type { ApiConfig, HealthStatus } from './types.js';

export type { ApiConfig, HealthStatus } from './types.js';
export type { Authenticator, AuthResult, Principal } from './auth.js';

export interface ApiServerOptions {
  store: Store;
  log: Logger;
  metrics: Registry;
  config: ApiConfig;
  health: () => HealthStatus;
  /** Rows as they are stored; reserved for the live tail. */
  events: { onRowsStored(listener: (rows: readonly SessionRow[]) => void): () => void };
  /** Authentication seam; @default allow every request (API keys are not built yet). */
  authenticate?: Authenticator;
  /** Clock for default time windows; @default Date.now */
  now?: () => number;
}

export interface ApiHandler {
  /** The `node:http` request listener (usable with any server, or in tests). */
  listener: RequestListener;
  /** The route table, for the OpenAPI consistency test. */
  routes: readonly Route[];
}

export interface ApiServer {
  /** Start listening on `config.http.listen`; resolves to the `host:port` actually bound. */
  listen(): Promise<string>;
  /** Stop accepting, cut open connections (aborting their queries). Idempotent. */
  close(): Promise<void>;
}

/** Split `host:port` / `[v6]:port` / `:port`. */
export function parseListen(listen: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(listen.trim());
  const port = Number(m?.[3]);
  if (!m || port > 65535) {
    throw new ApiConfigError(
      `http.listen: "${listen}" is not host:port (e.g. 127.0.0.1:8080 or [::1]:8080)`,
    );
  }
  return { host: m[1] ?? (m[2] === '' ? '::' : (m[2] ?? '')), port };
}

function formatAddress(address: AddressInfo): string {
  return address.family === 'IPv6'
    ? `[${address.address}]:${address.port}`
    : `${address.address}:${address.port}`;
}

/** Build the request handler (no socket): routing, auth seam, errors, request metrics. */
export function createApiHandler(options: ApiServerOptions): ApiHandler {
  const { log } = options;
  const telemetry = createApiTelemetry(options.metrics, log);
  const authenticate = options.authenticate ?? allowAll;
  const routes = createRoutes({
    store: options.store,
    metrics: options.metrics,
    telemetry,
    health: options.health,
    now: options.now ?? Date.now,
  });

  const fail = (res: ServerResponse, route: Route | undefined, err: unknown): void => {
    if (res.headersSent) {
      // Mid-stream: the status is gone; cutting the connection is the only honest signal.
      res.destroy();
      return;
    }
    if (route?.clickhouseErrors) {
      sendClickHouseError(res, err);
    } else if (err instanceof ApiError) {
      sendApiError(res, err);
    } else if (err instanceof CollectorError && err.code === 'STORE_BUSY') {
      sendApiError(res, new ApiError('STORE_BUSY'));
    } else {
      sendApiError(res, new ApiError('INTERNAL'));
    }
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const started = performance.now();
    const controller = new AbortController();
    let routeName = 'unmatched';
    res.on('close', () => {
      if (!res.writableFinished) controller.abort();
      telemetry.requestFinished(
        routeName,
        req.method ?? '',
        res.writableFinished ? res.statusCode : 499,
        (performance.now() - started) / 1000,
      );
    });

    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://localhost');
    } catch {
      sendApiError(res, new ApiError('NOT_FOUND', 'malformed request target'));
      return;
    }
    const match = matchRoute(routes, req.method ?? '', url.pathname);
    if (match.kind === 'not_found') {
      sendApiError(res, new ApiError('NOT_FOUND', `no route for ${url.pathname.slice(0, 200)}`));
      return;
    }
    if (match.kind === 'method_not_allowed') {
      sendApiError(
        res,
        new ApiError(
          'METHOD_NOT_ALLOWED',
          `${req.method ?? ''} is not allowed; use ${match.allowed.join(', ')}`,
        ),
        { allow: match.allowed.join(', ') },
      );
      return;
    }
    const { route, params } = match;
    routeName = route.name;
    try {
      let principal: Principal = { kind: 'anonymous' };
      if (!route.open) {
        const auth = await authenticate(req);
        if (!auth.ok) {
          throw route.clickhouseErrors
            ? new SqlEndpointError('REQUIRED_PASSWORD', auth.reason)
            : new ApiError('UNAUTHORIZED', auth.reason);
        }
        principal = auth.principal;
      }
      await route.handle({
        req,
        res,
        url,
        params,
        signal: controller.signal,
        log,
        principal,
      });
    } catch (err) {
      if (controller.signal.aborted) return;
      const expected =
        (err instanceof ApiError && err.status < 500) ||
        (err instanceof CollectorError && err.code === 'STORE_BUSY');
      if (!expected && !(err instanceof SqlEndpointError)) telemetry.requestFailed(route.name, err);
      fail(res, route, err);
    }
  };

  return {
    routes,
    listener: (req, res) => {
      void handle(req, res);
    },
  };
}

/** The collector's HTTP server: REST API, CSV export, SQL endpoint, /metrics, /healthz. */
export function createApiServer(options: ApiServerOptions): ApiServer {
  const { listener } = createApiHandler(options);
  const { host, port } = parseListen(options.config.http.listen);
  let server: Server | undefined;
  let closing: Promise<void> | undefined;

  return {
    async listen() {
      if (server) throw new Error('the API server is already listening');
      const created = createServer({ keepAliveTimeout: 5_000 }, listener);
      server = created;
      await new Promise<void>((resolve, reject) => {
        created.once('error', reject);
        created.listen(port, host, () => {
          created.off('error', reject);
          resolve();
        });
      });
      const bound = formatAddress(created.address() as AddressInfo);
      options.log.info({ listen: bound }, 'http api listening');
      return bound;
    },
    close() {
      closing ??= new Promise<void>((resolve) => {
        const current = server;
        if (!current?.listening) {
          resolve();
          return;
        }
        current.close(() => resolve());
        // Streams in flight (exports, SQL) are cut; their queries abort with them.
        current.closeAllConnections();
      });
      return closing;
    },
  };
}
