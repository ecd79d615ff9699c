import { createServer } from 'node:http';
import type { IncomingMessage, RequestListener, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { isValidToken } from '@connlog/proto';
import type { Registry } from '@connlog/metrics';
import type { Logger } from 'pino';
import type { AdminLog } from '../admin/index.js';
import type { ApiKeys } from '../auth/index.js';
import type { SessionRow, Store } from '../store/store.js';
import { CollectorError } from '../errors.js';
import { createAudit } from './audit.js';
import type { Audit } from './audit.js';
import { ANONYMOUS, keyAccess, openAccess } from './auth.js';
import type { AccessCheck, AccessResult, Principal } from './auth.js';
import { ApiConfigError, ApiError, SqlEndpointError } from './errors.js';
import { parseLiveQuery } from './filters/parse.js';
import { queryObject, sendApiError } from './http.js';
import { createLiveTail } from './live/hub.js';
import type { LiveTail, LiveTailOptions } from './live/hub.js';
import { matchRoute } from './router.js';
import type { Route } from './router.js';
import { createRoutes } from './routes/index.js';
import { LIVE_ROUTE, validOrg } from './routes/network_logs.js';
import { sendClickHouseError } from './routes/sql.js';
import { attachServiceLog } from './service_log.js';
import { createApiTelemetry } from './telemetry.js';
import type { ApiTelemetry } from './telemetry.js';
import type { ApiConfig, HealthStatus, RetentionApi } from './types.js';
import { rejectUpgrade } from './upgrade.js';

export type { ApiConfig, HealthStatus, RetentionApi } from './types.js';
export type { Access, AccessResult, Principal } from './auth.js';

/** Live tail bounds (see live/hub.ts for what each one does). */
export type LiveOptions = Pick<
  LiveTailOptions,
  'maxClients' | 'maxBufferedMessages' | 'maxBufferedBytes' | 'heartbeatMs' | 'slowCloseGraceMs'
>;

export interface ApiServerOptions {
  store: Store;
  log: Logger;
  metrics: Registry;
  config: ApiConfig;
  health: () => HealthStatus;
  /** Rows as they are stored: feeds the live tail and the service log. */
  events: { onRowsStored(listener: (rows: readonly SessionRow[]) => void): () => void };
  /**
   * API keys (auth/keys.ts). When given, every route except `/healthz`, `/sql/ping`,
   * `/api/v1/openapi.json` (and `/metrics` unless `metricsAuth`) needs a key whose role
   * and org allow it. @default none: the API is open to anyone who can reach it (a
   * warning is logged at startup; an error when not listening on loopback)
   */
  keys?: Pick<ApiKeys, 'check'>;
  /** `/metrics` needs a valid API key (any role, any org). Ignored without `keys`. @default false */
  metricsAuth?: boolean;
  /**
   * Where retention changes, exports, SQL statements and denied attempts are
   * recorded. @default none: nothing is recorded
   */
  adminLog?: Pick<AdminLog, 'record'>;
  /** Retention settings (and enforcer) for `GET/PUT …/retention`. @default none: 501 */
  retention?: RetentionApi;
  /** Live tail bounds. @default see live/hub.ts (100 clients, 1000 messages / 1 MiB each) */
  live?: LiveOptions;
  /** One `network_log` log line per stored session. @default false */
  serviceLog?: boolean;
  /** Clock for default time windows; @default Date.now */
  now?: () => number;
}

export interface ApiHandler {
  /** The `node:http` request listener (usable with any server, or in tests). */
  listener: RequestListener;
  /** The server's `upgrade` listener: WebSocket live tails. */
  upgrade: (req: IncomingMessage, socket: Duplex, head: Buffer) => void;
  /** The route table, for the OpenAPI consistency test. */
  routes: readonly Route[];
  /** Live tail clients connected now. */
  liveClients(): number;
  /** Close the live tail clients (1001). Idempotent. */
  close(): Promise<void>;
}

export interface ApiServer {
  /** Start listening on `config.http.listen`; resolves to the `host:port` actually bound. */
  listen(): Promise<string>;
  /** Stop accepting, close live tails, cut open connections (aborting their queries). Idempotent. */
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

/** The error a refused request gets, in the route's dialect; sets the challenge header. */
function accessError(
  route: Route,
  result: Exclude<AccessResult, { ok: true }>,
  res?: ServerResponse,
): { error: ApiError | SqlEndpointError; headers: Record<string, string> } {
  if (result.status === 401) {
    const headers = {
      'www-authenticate': route.clickhouseErrors
        ? 'Basic realm="connlog"'
        : 'Bearer realm="connlog"',
    };
    for (const [name, value] of Object.entries(headers)) res?.setHeader(name, value);
    if (route.clickhouseErrors) {
      const kind = result.missing ? 'REQUIRED_PASSWORD' : 'AUTHENTICATION_FAILED';
      return { error: new SqlEndpointError(kind, result.reason), headers };
    }
    return { error: new ApiError('UNAUTHORIZED', result.reason), headers };
  }
  return {
    error: route.clickhouseErrors
      ? new SqlEndpointError('ORG_SCOPE', result.reason)
      : new ApiError('FORBIDDEN', result.reason),
    headers: {},
  };
}

interface Gate {
  check: AccessCheck;
  audit: Audit;
}

/** Authenticate and authorize; a refused key is recorded when the route is audited. */
function admit(
  gate: Gate,
  req: IncomingMessage,
  route: Route,
  params: Record<string, string>,
  res?: ServerResponse,
): { principal: Principal } | { refused: ReturnType<typeof accessError> } {
  const result = gate.check(req, route, params);
  if (result.ok) return { principal: result.principal };
  if (result.status === 403 && route.audit) {
    const org = params.org;
    gate.audit.record({
      action: route.audit,
      outcome: 'denied',
      orgId: route.scope !== 'all' && org !== undefined && isValidToken(org) ? org : '',
      principal: result.principal,
      req,
      metadata: { route: route.name, reason: result.reason },
    });
  }
  return { refused: accessError(route, result, res) };
}

function upgradeHandler(
  routes: readonly Route[],
  gate: Gate,
  live: LiveTail,
  telemetry: ApiTelemetry,
): (req: IncomingMessage, socket: Duplex, head: Buffer) => void {
  return (req, socket, head) => {
    const started = performance.now();
    socket.on('error', () => socket.destroy());
    let routeName = 'unmatched';
    const refuse = (err: ApiError, headers: Record<string, string> = {}): void => {
      rejectUpgrade(socket, err, headers);
      telemetry.requestFinished(
        routeName,
        req.method ?? '',
        err.status,
        (performance.now() - started) / 1000,
      );
    };
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://localhost');
    } catch {
      refuse(new ApiError('NOT_FOUND', 'malformed request target'));
      return;
    }
    const match = matchRoute(routes, req.method ?? '', url.pathname);
    if (match.kind !== 'found' || match.route.name !== LIVE_ROUTE) {
      refuse(
        new ApiError(
          'NOT_FOUND',
          'WebSocket upgrades are served at GET /api/v1/orgs/{org}/network-logs/live only',
        ),
      );
      return;
    }
    const { route, params } = match;
    routeName = route.name;
    const admitted = admit(gate, req, route, params);
    if ('refused' in admitted) {
      const { error, headers } = admitted.refused;
      refuse(error as ApiError, headers);
      return;
    }
    let org: string;
    let subscription: Parameters<LiveTail['accept']>[3];
    try {
      org = validOrg(params.org);
      subscription = {
        org,
        filters: parseLiveQuery(url.searchParams),
        query: queryObject(url.searchParams),
      };
    } catch (err) {
      refuse(err instanceof ApiError ? err : new ApiError('INTERNAL'));
      return;
    }
    if (!live.hasRoom()) {
      live.refused(org);
      refuse(
        new ApiError(
          'TOO_MANY_LIVE_CLIENTS',
          `this collector serves at most ${live.maxClients} live tail clients; retry later`,
        ),
        { 'retry-after': '5' },
      );
      return;
    }
    live.accept(req, socket, head, subscription);
    telemetry.requestFinished(routeName, 'GET', 101, (performance.now() - started) / 1000);
  };
}

/** Build the request handler (no socket): routing, auth seam, errors, request metrics. */
export function createApiHandler(options: ApiServerOptions): ApiHandler {
  const { log } = options;
  const telemetry = createApiTelemetry(options.metrics, log);
  const audit = createAudit(options.adminLog, log);
  const gate: Gate = { check: options.keys ? keyAccess(options.keys) : openAccess, audit };
  const routes = createRoutes({
    store: options.store,
    metrics: options.metrics,
    telemetry,
    health: options.health,
    now: options.now ?? Date.now,
    audit,
    metricsAuth: options.keys !== undefined && options.metricsAuth === true,
    retention: options.retention,
  });
  const live = createLiveTail({
    ...options.live,
    events: options.events,
    log,
    metrics: options.metrics,
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
      let principal: Principal = ANONYMOUS;
      if (route.access !== 'open') {
        const admitted = admit(gate, req, route, params, res);
        if ('refused' in admitted) throw admitted.refused.error;
        principal = admitted.principal;
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
    upgrade: upgradeHandler(routes, gate, live, telemetry),
    liveClients: () => live.clients,
    close: () => live.close(),
  };
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host.startsWith('127.');
}

/** The collector's HTTP server: REST API, CSV export, SQL endpoint, /metrics, /healthz. */
export function createApiServer(options: ApiServerOptions): ApiServer {
  const handler = createApiHandler(options);
  const { host, port } = parseListen(options.config.http.listen);
  const { log } = options;
  let server: Server | undefined;
  let closing: Promise<void> | undefined;
  let detachServiceLog: (() => void) | undefined;

  return {
    async listen() {
      if (server) throw new Error('the API server is already listening');
      const created = createServer({ keepAliveTimeout: 5_000 }, handler.listener);
      created.on('upgrade', handler.upgrade);
      server = created;
      await new Promise<void>((resolve, reject) => {
        created.once('error', reject);
        created.listen(port, host, () => {
          created.off('error', reject);
          resolve();
        });
      });
      const bound = formatAddress(created.address() as AddressInfo);
      log.info({ listen: bound, auth: options.keys ? 'api_keys' : 'off' }, 'http api listening');
      if (!options.keys) {
        const warning =
          'API authentication is OFF (no API key store): anyone who reaches this address can read every org and change retention';
        // Open on loopback is the demo setup; open on a network address needs action.
        if (isLoopback(host)) log.warn({ listen: bound }, warning);
        else log.error({ listen: bound }, warning);
      }
      if (options.serviceLog) detachServiceLog = attachServiceLog(options.events, log);
      return bound;
    },
    close() {
      closing ??= (async () => {
        detachServiceLog?.();
        const current = server;
        if (!current?.listening) {
          await handler.close();
          return;
        }
        const stopped = new Promise<void>((resolve) => current.close(() => resolve()));
        // Live tails get a close frame (1001) before their sockets go.
        await handler.close();
        // Streams in flight (exports, SQL) are cut; their queries abort with them.
        current.closeAllConnections();
        await stopped;
      })();
      return closing;
    },
  };
}
