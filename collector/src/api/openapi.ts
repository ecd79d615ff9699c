import { CLOSE_REASON_NAMES, PROTOCOL_NAMES } from '@connlog/proto';
import { ACTOR_TYPES, ADMIN_ACTIONS, ADMIN_QUERY_MAX_LIMIT, OUTCOMES } from '../admin/index.js';
import { RETENTION_MAX_DAYS } from '../retention/index.js';
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

/** 401/403 of every route that needs a key (with API keys enabled). */
const authResponses = {
  '401': {
    ...errorResponse(
      'UNAUTHORIZED: no API key, or not a valid one. Carries WWW-Authenticate: Bearer.',
    ),
    headers: { 'WWW-Authenticate': { schema: { type: 'string' } } },
  },
  '403': errorResponse("FORBIDDEN: the key's role or org does not allow this."),
};

const liveFilterParameters = filterParameters.filter((p) => p.name !== 'from' && p.name !== 'to');

const adminFilterParameters = [
  {
    name: 'from',
    in: 'query',
    description: 'Actions at or after this instant (RFC 3339 or unix seconds).',
    schema: { type: 'string' },
  },
  {
    name: 'to',
    in: 'query',
    description: 'Actions before this instant (exclusive).',
    schema: { type: 'string' },
  },
  {
    name: 'action',
    in: 'query',
    ...stringArray('Action.', { type: 'string', enum: Object.keys(ADMIN_ACTIONS) }),
  },
  { name: 'actor', in: 'query', ...stringArray('Actor name or id (API key id).') },
  {
    name: 'actorType',
    in: 'query',
    ...stringArray('Actor type.', { type: 'string', enum: ACTOR_TYPES }),
  },
  {
    name: 'outcome',
    in: 'query',
    ...stringArray('Outcome.', { type: 'string', enum: OUTCOMES }),
  },
];

const adminOrgParameter = {
  ...orgParameter,
  description: 'Organization id, or * for every org (needs a key scoped to all orgs).',
  schema: { type: 'string', pattern: '^([A-Za-z0-9_-]{1,64}|\\*)$' },
};

const retentionSchema = {
  type: 'object',
  properties: {
    org: { type: 'string' },
    days: {
      type: 'integer',
      description: `-1 keep forever, 0 do not store, 1-${RETENTION_MAX_DAYS} days.`,
    },
    source: {
      type: 'string',
      enum: ['org', 'default'],
      description: 'Whether the org has a setting of its own.',
    },
    defaultDays: { type: 'integer' },
    updatedAt: { type: ['string', 'null'], format: 'date-time' },
    updatedBy: { type: ['string', 'null'] },
  },
  required: ['org', 'days', 'source', 'defaultDays', 'updatedAt', 'updatedBy'],
};

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
  '401': {
    description:
      'No API key (code 194 REQUIRED_PASSWORD) or not a valid one (code 516 AUTHENTICATION_FAILED); WWW-Authenticate: Basic.',
    headers: { 'X-ClickHouse-Exception-Code': { schema: { type: 'string' } } },
    content: { 'text/plain': { schema: { type: 'string' } } },
  },
  '403': {
    description:
      'Code 497 ACCESS_DENIED: the key is limited to one org; the SQL endpoint reads every org.',
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
        'Network logs of proxied TCP/UDP sessions: list, fetch, export, live tail, retention, the admin action log, and a read-only SQL endpoint. With API keys enabled, every operation without its own `security: []` needs a key (roles admin and auditor, scoped to one org or to all).',
    },
    security: [{ bearer: [] }],
    paths: {
      '/healthz': {
        get: {
          operationId: 'health',
          security: [],
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
          security: [],
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
          security: [],
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
            ...authResponses,
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
            ...authResponses,
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
            ...authResponses,
            '404': errorResponse('SESSION_NOT_FOUND'),
          },
        },
      },
      '/api/v1/orgs/{org}/network-logs/live': {
        get: {
          operationId: 'tailNetworkLogs',
          summary: 'Live tail over WebSocket: sessions as they are stored',
          description:
            'A WebSocket upgrade (RFC 6455). The server sends JSON text messages: first {"type":"hello","org","filters","limits"}, then {"type":"session","data":<NetworkLogItem>} for every stored version of a matching session (start, updates, end). A client that falls behind its bounds is closed with 1013 "slow consumer"; shutdown closes with 1001. Takes the list filters except from/to.',
          parameters: [orgParameter, ...liveFilterParameters],
          responses: {
            '101': { description: 'Switching Protocols: the tail runs.' },
            '400': errorResponse('INVALID_ORG, INVALID_FILTER or UNKNOWN_PARAMETER (from, to)'),
            ...authResponses,
            '426': errorResponse('UPGRADE_REQUIRED: a plain request, not a WebSocket upgrade'),
            '503': errorResponse('TOO_MANY_LIVE_CLIENTS'),
          },
        },
      },
      '/api/v1/orgs/{org}/retention': {
        get: {
          operationId: 'getRetention',
          summary: "The org's retention in days (admin role)",
          parameters: [orgParameter],
          responses: {
            '200': {
              description: 'The retention in force',
              content: { 'application/json': { schema: retentionSchema } },
            },
            '400': errorResponse('INVALID_ORG'),
            ...authResponses,
            '501': errorResponse('NOT_CONFIGURED'),
          },
        },
        put: {
          operationId: 'setRetention',
          summary:
            "Set the org's retention (admin role); applied to existing rows too; recorded in the admin log",
          parameters: [orgParameter],
          requestBody: {
            required: true,
            content: {
              'application/json': {
                schema: {
                  type: 'object',
                  properties: {
                    days: {
                      type: 'integer',
                      minimum: -1,
                      maximum: RETENTION_MAX_DAYS,
                      description: '-1 keep forever, 0 do not store, otherwise days.',
                    },
                  },
                  required: ['days'],
                  additionalProperties: false,
                },
              },
            },
          },
          responses: {
            '200': {
              description: 'Stored; existingRows says what happened to the rows already stored',
              content: {
                'application/json': {
                  schema: {
                    ...retentionSchema,
                    properties: {
                      ...retentionSchema.properties,
                      existingRows: {
                        type: 'object',
                        properties: {
                          state: {
                            type: 'string',
                            enum: ['unchanged', 'restamped', 'pending', 'failed'],
                          },
                          storedDays: { type: 'integer' },
                          partitionsRewritten: { type: 'integer' },
                          error: { type: 'string' },
                        },
                        required: ['state'],
                      },
                    },
                  },
                },
              },
            },
            '400': errorResponse('INVALID_ORG or INVALID_BODY (param names the field, e.g. days)'),
            ...authResponses,
            '413': errorResponse('BODY_TOO_LARGE'),
            '501': errorResponse('NOT_CONFIGURED'),
            '503': errorResponse('SETTINGS_UNAVAILABLE'),
          },
        },
      },
      '/api/v1/orgs/{org}/admin-actions': {
        get: {
          operationId: 'listAdminActions',
          summary: 'The admin action log, newest first, with keyset pagination',
          parameters: [
            adminOrgParameter,
            ...adminFilterParameters,
            {
              name: 'limit',
              in: 'query',
              description: `Page size, 1-${ADMIN_QUERY_MAX_LIMIT}. Default 100.`,
              schema: { type: 'integer', minimum: 1, maximum: ADMIN_QUERY_MAX_LIMIT, default: 100 },
            },
            {
              name: 'cursor',
              in: 'query',
              description: 'nextCursor of the previous page, unchanged.',
              schema: { type: 'string' },
            },
          ],
          responses: {
            '200': {
              description: 'A page',
              content: {
                'application/json': { schema: { $ref: '#/components/schemas/AdminActionPage' } },
              },
            },
            '400': errorResponse(
              'INVALID_ORG, INVALID_FILTER, INVALID_PARAMETER or UNKNOWN_PARAMETER',
            ),
            ...authResponses,
          },
        },
      },
      '/api/v1/orgs/{org}/admin-actions/export': {
        get: {
          operationId: 'exportAdminActions',
          summary: 'The admin action log as CSV, newest first, streamed',
          parameters: [adminOrgParameter, ...adminFilterParameters],
          responses: {
            '200': {
              description:
                'CSV with a header row: timestamp, org_id, action, actor_type, actor, actor_id, outcome, metadata.',
              content: { 'text/csv': { schema: { type: 'string' } } },
            },
            '400': errorResponse('INVALID_ORG, INVALID_FILTER or UNKNOWN_PARAMETER'),
            ...authResponses,
          },
        },
      },
      '/sql/ping': {
        get: {
          operationId: 'sqlPing',
          security: [],
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
          security: [{ basic: [] }, { clickhouseKey: [] }, { bearer: [] }],
          responses: sqlResponses,
        },
        post: {
          operationId: 'sqlPost',
          summary: 'Read-only SQL, statement in the body (appended to ?query= when both are given)',
          parameters: sqlParameters,
          requestBody: { content: { 'text/plain': { schema: { type: 'string' } } } },
          security: [{ basic: [] }, { clickhouseKey: [] }, { bearer: [] }],
          responses: sqlResponses,
        },
      },
    },
    components: {
      securitySchemes: {
        bearer: {
          type: 'http',
          scheme: 'bearer',
          description: 'An API key (clk_<id>_<secret>) as Authorization: Bearer <key>.',
        },
        basic: {
          type: 'http',
          scheme: 'basic',
          description:
            'For /sql: the API key as the password (any user name), as ClickHouse clients send it.',
        },
        clickhouseKey: {
          type: 'apiKey',
          in: 'header',
          name: 'X-ClickHouse-Key',
          description: "For /sql: the API key in ClickHouse's own header.",
        },
      },
      schemas: {
        AdminActionPage: {
          type: 'object',
          properties: {
            items: {
              type: 'array',
              items: {
                type: 'object',
                properties: {
                  timestamp: { type: 'string', format: 'date-time' },
                  orgId: { type: 'string', description: "'' for actions across orgs" },
                  action: { type: 'string', enum: Object.keys(ADMIN_ACTIONS) },
                  actorType: { type: 'string', enum: ACTOR_TYPES },
                  actor: { type: 'string' },
                  actorId: { type: 'string' },
                  outcome: { type: 'string', enum: OUTCOMES },
                  metadata: { type: 'object' },
                },
                required: [
                  'timestamp',
                  'orgId',
                  'action',
                  'actorType',
                  'actor',
                  'actorId',
                  'outcome',
                  'metadata',
                ],
              },
            },
            nextCursor: { type: ['string', 'null'] },
          },
          required: ['items', 'nextCursor'],
        },
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
