import { describe, expect, it } from 'vitest';
import { SqlEndpointError } from '../../src/api/errors.js';
import { joinStatement, parseClickHouseUrl } from '../../src/api/sql/request.js';

/** What a request of ClickHouse's HTTP interface says, before any policy judges it. */
describe('parseClickHouseUrl', () => {
  it('sorts statement, parameters, format, database, query id and settings', () => {
    const search = new URLSearchParams([
      ['query', 'INSERT INTO t FORMAT JSONEachRow'],
      ['query_id', 'q-1'],
      ['param_org', 'acme'],
      ['param_ids', "['a','it\\'s']"],
      ['default_format', 'CSV'],
      ['database', 'connlog'],
      ['insert_deduplication_token', 'batch-7'],
      ['readonly', '1'],
      ['wait_end_of_query', '1'],
      ['enable_http_compression', '1'],
      ['password', 'never-a-setting'],
    ]);
    expect(parseClickHouseUrl(search)).toEqual({
      query: 'INSERT INTO t FORMAT JSONEachRow',
      params: { org: 'acme', ids: "['a','it\\'s']" },
      format: 'CSV',
      database: 'connlog',
      queryId: 'q-1',
      settings: [
        ['insert_deduplication_token', 'batch-7'],
        ['readonly', '1'],
      ],
    });
  });

  it('mints a query id when none, or a strange one, is sent', () => {
    const none = parseClickHouseUrl(new URLSearchParams());
    expect(none.queryId).toMatch(/^[0-9a-f-]{36}$/);
    expect(none).toEqual({ query: '', params: {}, queryId: none.queryId, settings: [] });
    const odd = parseClickHouseUrl(new URLSearchParams({ query_id: 'a b' }));
    expect(odd.queryId).not.toBe('a b');
  });

  it('refuses a parameter name that is not an identifier', () => {
    expect(() => parseClickHouseUrl(new URLSearchParams({ 'param_a-b': '1' }))).toThrow(
      SqlEndpointError,
    );
    expect(() => parseClickHouseUrl(new URLSearchParams({ 'param_a-b': '1' }))).toThrow(
      /"a-b" is not an identifier/,
    );
  });
});

describe('joinStatement', () => {
  it('joins URL query and body with a newline, as ClickHouse reads them', () => {
    expect(joinStatement('INSERT INTO t FORMAT CSV', '1,2\n')).toBe(
      'INSERT INTO t FORMAT CSV\n1,2\n',
    );
    expect(joinStatement('', 'SELECT 1')).toBe('SELECT 1');
    expect(joinStatement('SELECT 1', '  \n')).toBe('SELECT 1');
    expect(joinStatement('', '')).toBe('');
  });
});
