import { describe, expect, it } from 'vitest';
import { SqlEndpointError } from '../../src/api/errors.js';
import { classifyStatement } from '../../src/api/sql/classify.js';
import { tokenize } from '../../src/api/sql/lexer.js';

function refused(sql: string): SqlEndpointError {
  try {
    classifyStatement(sql);
  } catch (err) {
    if (err instanceof SqlEndpointError) return err;
    throw err;
  }
  throw new Error(`expected ${JSON.stringify(sql)} to be refused`);
}

describe('classifyStatement: accepted reads', () => {
  it.each([
    ['SELECT 1', 'SELECT'],
    ['  \n\tselect 1', 'SELECT'],
    ['-- a comment\nSELECT 1', 'SELECT'],
    ['/* block /* nested */ still */ SELECT 1', 'SELECT'],
    ['# hash comment\nSELECT 1', 'SELECT'],
    ['((SELECT 1) UNION ALL (SELECT 2))', 'SELECT'],
    ['WITH x AS (SELECT 1) SELECT * FROM x', 'WITH'],
    ['WITH (SELECT max(n) FROM t) AS m SELECT m', 'WITH'],
    ['SHOW TABLES FROM connlog', 'SHOW'],
    ['SHOW CREATE TABLE connlog.sessions', 'SHOW'],
    ['DESCRIBE TABLE connlog.network_logs', 'DESCRIBE'],
    ['desc connlog.sessions', 'DESC'],
    ['EXPLAIN SELECT 1', 'EXPLAIN'],
    ['EXISTS TABLE connlog.sessions', 'EXISTS'],
    ['SELECT * FROM system.tables', 'SELECT'],
    ["SELECT 'a;b' AS s", 'SELECT'],
    ["SELECT 'it''s; DROP TABLE x' AS s", 'SELECT'],
    ["SELECT 'back\\'slash; DROP' AS s", 'SELECT'],
    ['SELECT `we;ird` FROM t', 'SELECT'],
    ['SELECT "col;umn" FROM t', 'SELECT'],
    ['SELECT $$heredoc; DROP TABLE x$$', 'SELECT'],
    ['SELECT 1;', 'SELECT'],
    ['SELECT 1 ;; ', 'SELECT'],
    ['SELECT 1; -- trailing comment', 'SELECT'],
    ["SELECT * FROM system.settings WHERE name = 'readonly'", 'SELECT'],
    ['SELECT 1 SETTINGS max_threads = 1', 'SELECT'],
    ['SELECT count() FROM connlog.network_logs WHERE user_id = {u:String}', 'SELECT'],
    ["SELECT format('{}', 1)", 'SELECT'],
    ['SELECT format FROM t', 'SELECT'],
  ])('%j is a read (%s)', (sql, keyword) => {
    expect(classifyStatement(sql).keyword).toBe(keyword);
  });

  it('takes the FORMAT clause off and reports it', () => {
    expect(classifyStatement('SELECT 1 FORMAT JSONEachRow')).toEqual({
      sql: 'SELECT 1',
      format: 'JSONEachRow',
      keyword: 'SELECT',
    });
    const withSettings = classifyStatement('SELECT 1 format TSV SETTINGS max_threads=1;');
    expect(withSettings.format).toBe('TSV');
    expect(withSettings.sql).toBe('SELECT 1  SETTINGS max_threads=1');
  });

  it('does not mistake a column named format, or format(), for the clause', () => {
    expect(classifyStatement('SELECT format FROM t').format).toBeUndefined();
    expect(classifyStatement("SELECT format('{}', 1) AS f").format).toBeUndefined();
    // A FORMAT inside a subquery is not the statement's output format.
    expect(classifyStatement('SELECT * FROM (SELECT 1 FORMAT TSV)').format).toBeUndefined();
  });

  it('drops a trailing comment so nothing appended later can be commented out', () => {
    expect(classifyStatement('SELECT 1 -- note').sql).toBe('SELECT 1');
  });
});

describe('classifyStatement: refused', () => {
  it.each([
    ['INSERT INTO connlog.sessions VALUES (1)', 164],
    ['  insert into t select 1', 164],
    ['CREATE TABLE t (x UInt8) ENGINE = Memory', 164],
    ['ALTER TABLE connlog.sessions DELETE WHERE 1', 164],
    ['DROP TABLE connlog.sessions', 164],
    ['TRUNCATE TABLE connlog.sessions', 164],
    ['RENAME TABLE a TO b', 164],
    ['SYSTEM STOP MERGES', 164],
    ['KILL QUERY WHERE 1', 164],
    ['OPTIMIZE TABLE connlog.sessions FINAL', 164],
    ['SET readonly = 0', 164],
    ['GRANT ALL ON *.* TO x', 164],
    ['USE system', 164],
    ['/* SELECT */ DROP TABLE t', 164],
    ['(INSERT INTO t VALUES (1))', 164],
    ['FROM t SELECT x', 164],
    ['WITH 1 AS x INSERT INTO t VALUES (x)', 164],
    ['WITH (SELECT 1) AS x INSERT INTO t SELECT x', 164],
    ['EXPLAIN AST INSERT INTO t VALUES (1)', 164],
    ['EXPLAIN SYNTAX DROP TABLE t', 164],
    ['SELECT 1 SETTINGS readonly = 0', 164],
    ['SELECT 1 SETTINGS max_threads = 1, READONLY=0', 164],
    ['SELECT 1 SETTINGS allow_ddl = 1', 164],
    ['SELECT 1 SETTINGS allow_introspection_functions=1', 164],
    ['SELECT * FROM (SELECT 1 SETTINGS readonly = 0)', 164],
    ['SELECT 1; DROP TABLE t', 62],
    ['SELECT 1; SELECT 2', 62],
    ["SELECT 'x'; DROP TABLE t", 62],
    ['SELECT 1 -- c\n; SELECT 2', 62],
    ['SELECT 1 /* ; */ ; INSERT INTO t VALUES (1)', 62],
    ['', 62],
    ['  -- only a comment', 62],
    [';', 62],
    ["SELECT file('/etc/passwd')", 497],
    ["SELECT * FROM file('/etc/passwd', 'LineAsString')", 497],
    ["SELECT * FROM FILE('/etc/passwd')", 497],
    ["SELECT * FROM url('http://127.0.0.1:1/', 'CSV')", 497],
    ["SELECT * FROM remote('127.0.0.1', system.one)", 497],
    ["SELECT * FROM executable('x.sh', 'TSV', 'a String')", 497],
    ["SELECT 1 INTO OUTFILE '/tmp/x.csv'", 497],
    ["SELECT 1 into   outfile '/tmp/x.csv' FORMAT CSV", 497],
  ])('%j is refused with code %i', (sql, code) => {
    expect(refused(sql).clickhouseCode).toBe(code);
  });

  it('explains why in the message', () => {
    expect(refused('DROP TABLE t').message).toMatch(/readonly mode.*DROP/);
    expect(refused('SELECT 1; SELECT 2').message).toMatch(/Multi-statements/);
    expect(refused("SELECT file('x')").message).toMatch(/file\(\)/);
  });

  it.each([
    "SELECT 'unterminated",
    'SELECT /* open comment',
    'SELECT `open ident',
    'SELECT $tag$ open heredoc',
    'SELECT 1 #notacomment',
  ])('%j is a syntax error', (sql) => {
    expect(refused(sql).clickhouseCode).toBe(62);
  });
});

describe('tokenize', () => {
  it('keeps literals whole and skips comments', () => {
    const tokens = tokenize("SELECT 'a;b', `c``d` /* x; */ -- y;\n FROM t # z;\n");
    expect(tokens.map((t) => t.text)).toEqual(['SELECT', "'a;b'", ',', '`c``d`', 'FROM', 't']);
  });

  it('reads numbers with exponents as one token', () => {
    expect(tokenize('SELECT 1e-5, 0x1F, .5').map((t) => t.type)).toEqual([
      'word',
      'number',
      'punct',
      'number',
      'punct',
      'number',
    ]);
  });
});
