import { CLOSE_REASON_NAMES, PROTOCOL_NAMES } from '@connlog/proto';
import { API_ERRORS } from './errors.js';
import { COUNT_CAP, DEFAULT_LIMIT, MAX_LIMIT, MAX_VALUES_PER_FILTER } from './filters/parse.js';

/**
 * OpenAPI 3.1 description of the HTTP API. Path keys are the router's templates; a
 * unit test checks that every route is described here and nothing else is.
 */

const COUNT_CAP_TEXT = String(COUNT_CAP);

const stringArray = (description: string, items: Record<string, unknown> = { type: 'string' }) => ({
  description: `${description} Repeat the parameter to match any of several values (at most ${MAX_VALUES_PER_FILTER}).`,
  schema: { type: 'array', items },
  style: 'form',
  explode: true,
});

const filterParameters = [
  {
    name: 'from',
    in: 'query',
    description:
      'Sessions that started at or after this instant: RFC 3339 (2024-05-01T12:00:00Z) or unix seconds. Default: 24 hours before the request.',
    schema: { type: 'string' },
  },
  {
    name: 'to',
    in: 'query',
    description: 'Sessions that started before this instant (exclusive). Default: no upper bound.',
    schema: { type: 'string' },
  },
  { name: 'site', in: 'query', ...stringArray('Site id.') },
  { name: 'resource', in: 'query', ...stringArray('Resource id.') },
  { name: 'client', in: 'query', ...stringArray('Client id.') },
  { name: 'user', in: 'query', ...stringArray('User id.') },
  {
    name: 'protocol',
    in: 'query',
    ...stringArray('Protocol.', { type: 'string', enum: PROTOCOL_NAMES }),
  },
  {
    name: 'source',
    in: 'query',
    ...stringArray(
      'Client address: an IP (10.0.0.5, 2001:db8::1), a CIDR (10.0.0.0/8, 2001:db8::/32), ip:port or [ipv6]:port.',
    ),
  },
  {
    name: 'dest',
    in: 'query',
    ...stringArray('Target address, same forms as source.'),
  },
  {
    name: 'destPort',
    in: 'query',
    ...stringArray('Target port.', { type: 'integer', minimum: 0, maximum: 65535 }),
  },
  {
    name: 'status',
    in: 'query',
    ...stringArray('Session status.', { type: 'string', enum: ['ongoing', 'completed'] }),
  },
  {
    name: 'closeReason',
    in: 'query',
    ...stringArray('Why the session ended.', { type: 'string', enum: CLOSE_REASON_NAMES }),
  },
  {
    name: 'minBytes',
    in: 'query',
    description: 'Sessions with at least this many bytes in total (bytes_tx + bytes_rx).',
    schema: { type: 'integer', minimum: 0 },
  },
  {
    name: 'sessionId',
    in: 'query',
    ...stringArray('Session id.', { type: 'string', format: 'uuid' }),
  },
];

const orgParameter = {
  name: 'org',
  in: 'path',
  required: true,
  description: 'Organization id: 1-64 letters, digits, "_" or "-".',
  schema: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,64}$' },
};

const errorResponse = (description: string) => ({
  description,
  content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
});

const sqlParameters = [
  {
    name: 'query',
    in: 'query',
    description: 'The statement (or its beginning, with the rest in a POST body).',
    schema: { type: 'string' },
  },
  {
    name: 'default_format',
    in: 'query',
    description: 'Output format when the statement has no FORMAT clause. Default TabSeparated.',
    schema: { type: 'string' },
  },
  {
    name: 'database',
    in: 'query',
    description: 'Only "default" is accepted: qualify tables (connlog.network_logs).',
    schema: { type: 'string' },
  },
  {
    name: 'query_id',
    in: 'query',
    description: 'Echoed in X-ClickHouse-Query-Id.',
    schema: { type: 'string' },
  },
  {
    name: 'param_{name}',
    in: 'query',
    description:
      'Value of the query parameter {name:Type} used in the statement (one URL parameter per name).',
    schema: { type: 'string' },
  },
];

const sqlResponses = {
  '200': {
    description: 'The result in the requested format, streamed.',
    headers: {
      'X-ClickHouse-Format': { schema: { type: 'string' } },
      'X-ClickHouse-Query-Id': { schema: { type: 'string' } },
      'X-ClickHouse-Summary': { schema: { type: 'string' } },
    },
    content: { 'text/tab-separated-values': { schema: { type: 'string' } } },
  },
  '400': {
    description: 'Refused or failing statement: `Code: <n>. DB::Exception: <message>`.',
    headers: { 'X-ClickHouse-Exception-Code': { schema: { type: 'string' } } },
    content: { 'text/plain': { schema: { type: 'string' } } },
  },
  '500': {
    description: 'Engine failure, same body shape.',
    headers: { 'X-ClickHouse-Exception-Code': { schema: { type: 'string' } } },
    content: { 'text/plain': { schema: { type: 'string' } } },
  },
};

const itemProperties: Record<string, unknown> = {
  org_id: { type: 'string' },
  site_id: { type: 'string' },
  agent_id: { type: 'string' },
  resource_id: { type: 'string' },
  session_id: { type: 'string', format: 'uuid' },
  protocol: { type: 'string', enum: PROTOCOL_NAMES },
  client_id: { type: 'string' },
  user_id: { type: 'string' },
  source_ip: { type: 'string', description: 'IPv4 dotted or IPv6 text.' },
  source_port: { type: 'integer' },
  source_addr: { type: 'string', description: 'ip:port ([ipv6]:port).' },
  dest_ip: { type: 'string' },
  dest_port: { type: 'integer' },
  dest_addr: { type: 'string' },
  dest_host: { type: 'string', description: 'Target as configured (hostname or IP).' },
  started_at: { type: 'string', format: 'date-time' },
  ended_at: { type: ['string', 'null'], format: 'date-time', description: 'null while ongoing.' },
  duration_ms: { type: 'integer' },
  bytes_tx: { type: 'integer', description: 'Bytes from the client toward the target.' },
  bytes_rx: { type: 'integer', description: 'Bytes returned to the client.' },
  packets_tx: { type: 'integer' },
  packets_rx: { type: 'integer' },
  close_reason: { type: 'string', enum: ['', ...CLOSE_REASON_NAMES] },
  error: { type: 'string' },
  status: { type: 'string', enum: ['ongoing', 'completed'] },
  retention_days: { type: 'integer' },
  version: { type: 'integer' },
  inserted_at: { type: 'string', format: 'date-time' },
};

export function openApiDocument(): Record<string, unknown> {
  return {
    openapi: '3.1.0',
    info: {
      title: 'connlog collector API',
      version: '1',
      description:
        'Network logs of proxied TCP/UDP sessions: list, fetch, export, and a read-only SQL endpoint. Authentication (API keys) is not enforced yet.',
    },
    paths: {
      '/healthz': {
        get: {
          operationId: 'health',
          summary: 'Health of the collector',
          responses: {
            '200': {
              description: 'Healthy',
              content: { 'application/json': { schema: { type: 'object' } } },
            },
            '503': {
              description: 'Unhealthy',
              content: { 'application/json': { schema: { type: 'object' } } },
            },
          },
        },
      },
      '/metrics': {
        get: {
          operationId: 'metrics',
          summary: 'Prometheus metrics',
          responses: {
            '200': {
              description: 'Text exposition format 0.0.4',
              content: { 'text/plain': { schema: { type: 'string' } } },
            },
          },
        },
      },
      '/api/v1/openapi.json': {
        get: {
          operationId: 'openapi',
          summary: 'This document',
          responses: {
            '200': {
              description: 'OpenAPI 3.1',
              content: { 'application/json': { schema: { type: 'object' } } },
            },
          },
        },
      },
      '/api/v1/orgs/{org}/network-logs': {
        get: {
          operationId: 'listNetworkLogs',
          summary: 'Sessions, newest first, with keyset pagination',
          parameters: [
            orgParameter,
            ...filterParameters,
            {
              name: 'limit',
              in: 'query',
              description: `Page size, 1-${MAX_LIMIT}. Default ${DEFAULT_LIMIT}.`,
              schema: { type: 'integer', minimum: 1, maximum: MAX_LIMIT, default: DEFAULT_LIMIT },
            },
            {
              name: 'cursor',
              in: 'query',
              description: 'nextCursor of the previous page, unchanged.',
              schema: { type: 'string' },
            },
            {
              name: 'count',
              in: 'query',
              description: `true adds count (exact up to ${COUNT_CAP_TEXT}) and countCapped.`,
              schema: { type: 'boolean', default: false },
            },
          ],
          responses: {
            '200': {
              description: 'A page',
              content: {
                'application/json': { schema: { $ref: '#/components/schemas/NetworkLogPage' } },
              },
            },
            '400': errorResponse(
              'INVALID_ORG, INVALID_FILTER, INVALID_PARAMETER or UNKNOWN_PARAMETER',
            ),
          },
        },
      },
      '/api/v1/orgs/{org}/network-logs/export': {
        get: {
          operationId: 'exportNetworkLogs',
          summary: 'Every matching session as CSV (RFC 4180), streamed',
          parameters: [orgParameter, ...filterParameters],
          responses: {
            '200': {
              description: 'CSV with a header row; columns as the item fields.',
              headers: { 'Content-Disposition': { schema: { type: 'string' } } },
              content: { 'text/csv': { schema: { type: 'string' } } },
            },
            '400': errorResponse('INVALID_ORG, INVALID_FILTER or UNKNOWN_PARAMETER'),
          },
        },
      },
      '/api/v1/orgs/{org}/network-logs/{sessionId}': {
        get: {
          operationId: 'getNetworkLog',
          summary: 'One session',
          parameters: [
            orgParameter,
            {
              name: 'sessionId',
              in: 'path',
              required: true,
              schema: { type: 'string', format: 'uuid' },
            },
          ],
          responses: {
            '200': {
              description: 'The session',
              content: {
                'application/json': { schema: { $ref: '#/components/schemas/NetworkLogItem' } },
              },
            },
            '400': errorResponse('INVALID_ORG or INVALID_SESSION_ID'),
            '404': errorResponse('SESSION_NOT_FOUND'),
          },
        },
      },
      '/sql/ping': {
        get: {
          operationId: 'sqlPing',
          summary: 'Liveness probe for ClickHouse clients',
          responses: {
            '200': {
              description: '"Ok."',
              content: { 'text/plain': { schema: { type: 'string' } } },
            },
          },
        },
      },
      '/sql': {
        get: {
          operationId: 'sqlGet',
          summary: 'Read-only SQL (ClickHouse HTTP interface subset), statement in ?query=',
          parameters: sqlParameters,
          responses: sqlResponses,
        },
        post: {
          operationId: 'sqlPost',
          summary: 'Read-only SQL, statement in the body (appended to ?query= when both are given)',
          parameters: sqlParameters,
          requestBody: { content: { 'text/plain': { schema: { type: 'string' } } } },
          responses: sqlResponses,
        },
      },
    },
    components: {
      schemas: {
        NetworkLogItem: {
          type: 'object',
          properties: itemProperties,
          required: Object.keys(itemProperties),
        },
        NetworkLogPage: {
          type: 'object',
          properties: {
            items: { type: 'array', items: { $ref: '#/components/schemas/NetworkLogItem' } },
            nextCursor: { type: ['string', 'null'] },
            count: {
              type: 'integer',
              description: `With count=true: matching sessions, at most ${COUNT_CAP_TEXT}.`,
            },
            countCapped: {
              type: 'boolean',
              description: `true when more than ${COUNT_CAP_TEXT} match.`,
            },
          },
          required: ['items', 'nextCursor'],
        },
        Error: {
          type: 'object',
          properties: {
            error: {
              type: 'object',
              properties: {
                code: { type: 'string', enum: Object.keys(API_ERRORS) },
                message: { type: 'string' },
                param: { type: 'string', description: 'The parameter that was wrong.' },
              },
              required: ['code', 'message'],
            },
          },
          required: ['error'],
        },
      },
    },
  };
}
