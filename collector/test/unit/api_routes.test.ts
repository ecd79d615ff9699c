import { describe, expect, it } from 'vitest';
import { CollectorError } from '../../src/errors.js';
import { SqlEndpointError } from '../../src/api/errors.js';
import { openApiDocument } from '../../src/api/openapi.js';
import { matchRoute } from '../../src/api/router.js';
import type { Route } from '../../src/api/router.js';
import { parseListen } from '../../src/api/server.js';
import { toClickHouseError } from '../../src/api/sql/engine_error.js';
import { contentTypeOf, isFormatName } from '../../src/api/sql/formats.js';
import { isUnstreamable, selectRows } from '../../src/api/sql/replay.js';
import { offlineApiHandler } from '../helpers/api_handler.js';

function routes(): readonly Route[] {
  return offlineApiHandler().routes;
}

describe('OpenAPI document', () => {
  it('describes every route, and only the routes', () => {
    const doc = openApiDocument() as { paths: Record<string, Record<string, unknown>> };
    const documented = Object.entries(doc.paths).flatMap(([path, item]) =>
      Object.keys(item).map((method) => `${method.toUpperCase()} ${path}`),
    );
    const served = routes().map((route) => `${route.method} ${route.path}`);
    expect(new Set(documented)).toEqual(new Set(served));
    expect(documented).toHaveLength(served.length);
  });

  it('is OpenAPI 3.1 with an operationId per operation', () => {
    const doc = openApiDocument() as {
      openapi: string;
      paths: Record<string, Record<string, { operationId?: string }>>;
    };
    expect(doc.openapi).toBe('3.1.0');
    const ids = Object.values(doc.paths).flatMap((item) =>
      Object.values(item).map((op) => op.operationId),
    );
    expect(ids.every((id) => typeof id === 'string')).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
  });
});

describe('router', () => {
  const table = routes();
  const find = (method: string, path: string) => matchRoute(table, method, path);

  it('matches literal routes before parameters', () => {
    expect(find('GET', '/api/v1/orgs/acme/network-logs/export')).toMatchObject({
      kind: 'found',
      route: { name: 'network_logs_export' },
      params: { org: 'acme' },
    });
    expect(
      find('GET', '/api/v1/orgs/acme/network-logs/0190a8a0-0000-7000-8000-000000000001'),
    ).toMatchObject({
      kind: 'found',
      route: { name: 'network_logs_get' },
      params: { sessionId: '0190a8a0-0000-7000-8000-000000000001' },
    });
  });

  it('decodes path parameters and refuses empty ones', () => {
    expect(find('GET', '/api/v1/orgs/a%20b/network-logs')).toMatchObject({
      params: { org: 'a b' },
    });
    expect(find('GET', '/api/v1/orgs//network-logs')).toEqual({ kind: 'not_found' });
    expect(find('GET', '/api/v1/orgs/%E0%A4%A/network-logs')).toEqual({ kind: 'not_found' });
  });

  it('tells a wrong method from a missing route', () => {
    expect(find('PUT', '/sql')).toEqual({ kind: 'method_not_allowed', allowed: ['GET', 'POST'] });
    expect(find('GET', '/sql/')).toEqual({ kind: 'not_found' });
  });

  it('uses a bounded set of route names for metric labels', () => {
    const names = new Set(table.map((route) => route.name));
    expect(names.size).toBeLessThanOrEqual(table.length);
    for (const name of names) expect(name).toMatch(/^[a-z_]+$/);
  });
});

describe('parseListen', () => {
  it.each([
    ['127.0.0.1:8080', { host: '127.0.0.1', port: 8080 }],
    ['[::1]:0', { host: '::1', port: 0 }],
    [':9000', { host: '::', port: 9000 }],
    ['localhost:80', { host: 'localhost', port: 80 }],
  ])('%s', (text, parsed) => {
    expect(parseListen(text)).toEqual(parsed);
  });

  it.each(['8080', '127.0.0.1', '::1:80', '127.0.0.1:99999', 'host:port'])(
    '%s is refused',
    (text) => {
      expect(() => parseListen(text)).toThrow(/http\.listen/);
    },
  );
});

describe('ClickHouse-style errors', () => {
  it('formats the endpoint’s own refusals', () => {
    expect(toClickHouseError(new SqlEndpointError('READONLY'))).toEqual({
      code: 164,
      status: 400,
      text: 'Code: 164. DB::Exception: Cannot execute query in readonly mode: the SQL endpoint only reads. (READONLY)\n',
    });
    expect(toClickHouseError(new SqlEndpointError('EMPTY_QUERY')).text).toMatch(
      /^Code: 62\. .*\(SYNTAX_ERROR\)\n$/,
    );
  });

  it('finds the engine code along the cause chain and keeps the first line', () => {
    const engine = Object.assign(
      new Error(
        'Code: 60. DB::Exception: Table connlog.nope does not exist. (UNKNOWN_TABLE)\nstack',
      ),
      { clickhouseCode: 60 },
    );
    const wrapped = new CollectorError('STORE_QUERY', 'query failed: ...', { cause: engine });
    expect(toClickHouseError(wrapped)).toEqual({
      code: 60,
      status: 400,
      text: 'Code: 60. DB::Exception: Table connlog.nope does not exist. (UNKNOWN_TABLE)\n',
    });
  });

  it('reads the numeric string code of the HTTP client’s errors', () => {
    const err = Object.assign(new Error('Memory limit exceeded'), { code: '241' });
    expect(toClickHouseError(err)).toMatchObject({ code: 241, status: 500 });
  });

  it('maps a busy store to 202/503 and anything else to 1002/500', () => {
    expect(toClickHouseError(new CollectorError('STORE_BUSY', 'busy'))).toMatchObject({
      code: 202,
      status: 503,
    });
    expect(toClickHouseError(new Error('socket hang up'))).toEqual({
      code: 1002,
      status: 500,
      text: 'Code: 1002. DB::Exception: socket hang up\n',
    });
  });
});

describe('formats', () => {
  it.each([
    ['TabSeparated', 'text/tab-separated-values; charset=UTF-8'],
    ['TSVWithNames', 'text/tab-separated-values; charset=UTF-8'],
    ['JSON', 'application/json; charset=UTF-8'],
    ['JSONEachRow', 'application/x-ndjson; charset=UTF-8'],
    ['CSVWithNames', 'text/csv; charset=UTF-8; header=present'],
    ['PrettyCompact', 'text/plain; charset=UTF-8'],
    ['Parquet', 'application/octet-stream'],
  ])('%s → %s', (format, type) => {
    expect(contentTypeOf(format)).toBe(type);
  });

  it('accepts only plain names', () => {
    expect(isFormatName('JSONEachRow')).toBe(true);
    expect(isFormatName('JSON; DROP')).toBe(false);
    expect(isFormatName('')).toBe(false);
  });
});

describe('unstreamable statements', () => {
  it('recognises the engine’s refusal through wrappers', () => {
    const inner = new Error(
      'Code: 36. DB::Exception: Streaming query is not supported for query: SHOW TABLES',
    );
    expect(
      isUnstreamable(new CollectorError('STORE_QUERY', 'query failed', { cause: inner })),
    ).toBe(true);
    expect(isUnstreamable(new Error('other'))).toBe(false);
  });

  it('replays rows through parameters only, with quoted column names', () => {
    const replay = selectRows([
      { name: 'a`b', n: 1, f: 1.5, ok: true, extra: null },
      { name: "x'); DROP TABLE t; --", n: 2, f: 2, ok: false, extra: 'y' },
    ]);
    expect(replay?.sql).toBe(
      'SELECT {p0:Array(String)}[i] AS `name`, {p1:Array(Int64)}[i] AS `n`, ' +
        '{p2:Array(Float64)}[i] AS `f`, {p3:Array(UInt8)}[i] AS `ok`, ' +
        '{p4:Array(Nullable(String))}[i] AS `extra` ' +
        'FROM (SELECT arrayJoin(range(1, {p5:UInt64} + 1)) AS i) ORDER BY i',
    );
    expect(replay?.params).toEqual({
      p0: ['a`b', "x'); DROP TABLE t; --"],
      p1: [1, 2],
      p2: [1.5, 2],
      p3: [1, 0],
      p4: [null, 'y'],
      p5: 2,
    });
    expect(selectRows([{ 'we`ird': 1 }])?.sql).toContain('AS `we\\`ird`');
    expect(selectRows([])).toBeUndefined();
  });
});
