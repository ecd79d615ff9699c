import { SqlEndpointError } from '../errors.js';
import { tokenize } from './lexer.js';
import type { Token } from './lexer.js';

/**
 * First line of the SQL endpoint's read-only guarantee: only one statement, and only
 * one that reads. The second line is the engine itself (the store runs these
 * queries with `readonly`), which also refuses what this check cannot see.
 *
 * This layer exists because `readonly` alone is not enough in an embedded engine:
 * the scalar `file()` function and `INTO OUTFILE` reach the collector's own disk
 * even in readonly mode, and several statements in one string would all run.
 */

export interface ReadStatement {
  /** The statement to run: the input without its FORMAT clause and trailing `;`. */
  sql: string;
  /** Output format from a `FORMAT` clause, when the statement had one. */
  format?: string;
  /** First keyword, upper case (`SELECT`, `WITH`, `SHOW`, ...). */
  keyword: string;
}

const READ_STARTS = new Set(['SELECT', 'WITH', 'SHOW', 'DESCRIBE', 'DESC', 'EXPLAIN', 'EXISTS']);

/** Statements that write, change schema, settings or the server. */
const WRITE_KEYWORDS = new Set([
  'INSERT',
  'CREATE',
  'ALTER',
  'DROP',
  'TRUNCATE',
  'RENAME',
  'SYSTEM',
  'KILL',
  'OPTIMIZE',
  'SET',
  'GRANT',
  'REVOKE',
  'ATTACH',
  'DETACH',
  'DELETE',
  'UPDATE',
  'EXCHANGE',
  'UNDROP',
  'BACKUP',
  'RESTORE',
  'MOVE',
  'USE',
  'WATCH',
  'BEGIN',
  'COMMIT',
  'ROLLBACK',
]);

/** Settings a query must not touch: they would loosen the engine's own guard. */
export const PROTECTED_SETTINGS = new Set([
  'readonly',
  'allow_ddl',
  'allow_introspection_functions',
]);

/**
 * Functions (scalar or table) that reach files, processes or the network. The
 * engine refuses most table functions in readonly mode, but not the scalar
 * `file()`; the rest are listed so a change in the engine cannot open them.
 */
export const DENIED_FUNCTIONS = new Set(
  [
    'file',
    'fileCluster',
    'filesystem',
    'url',
    'urlCluster',
    'executable',
    'input',
    'remote',
    'remoteSecure',
    'cluster',
    'clusterAllReplicas',
    's3',
    's3Cluster',
    'gcs',
    'oss',
    'cosn',
    'hdfs',
    'hdfsCluster',
    'azureBlobStorage',
    'azureBlobStorageCluster',
    'mysql',
    'postgresql',
    'sqlite',
    'odbc',
    'jdbc',
    'mongodb',
    'redis',
    'ytsaurus',
    'arrowFlight',
    'arrowstream',
    'eval',
  ].map((name) => name.toLowerCase()),
);

function upper(token: Token | undefined): string {
  return token?.type === 'word' ? token.text.toUpperCase() : '';
}

function readonlyError(what: string): SqlEndpointError {
  return new SqlEndpointError(
    'READONLY',
    `Cannot execute query in readonly mode: ${what} (the SQL endpoint only reads)`,
  );
}

/** A word that names a write statement (`system.tables` is a database, not SYSTEM). */
function isWriteKeyword(tokens: readonly Token[], i: number): boolean {
  const word = upper(tokens[i]);
  if (!WRITE_KEYWORDS.has(word)) return false;
  return tokens[i + 1]?.text !== '.' && tokens[i - 1]?.text !== '.';
}

/** Depth of each token (parentheses, brackets, braces). */
function depths(tokens: readonly Token[]): number[] {
  let depth = 0;
  return tokens.map((token) => {
    if (token.type !== 'punct') return depth;
    if ('([{'.includes(token.text)) {
      depth += 1;
      return depth - 1;
    }
    if (')]}'.includes(token.text)) depth = Math.max(0, depth - 1);
    return depth;
  });
}

function checkEverywhere(tokens: readonly Token[]): void {
  tokens.forEach((token, i) => {
    if (token.type !== 'word') return;
    const lower = token.text.toLowerCase();
    const next = tokens[i + 1];
    if (next?.text === '(' && DENIED_FUNCTIONS.has(lower) && tokens[i - 1]?.text !== '.') {
      throw new SqlEndpointError(
        'ACCESS_DENIED',
        `function ${token.text}() is not allowed on the SQL endpoint: it reaches files, processes or the network`,
      );
    }
    if (next?.text === '=' && PROTECTED_SETTINGS.has(lower)) {
      throw readonlyError(`setting ${lower} cannot be changed`);
    }
    if (lower === 'into' && upper(next) === 'OUTFILE') {
      throw new SqlEndpointError(
        'ACCESS_DENIED',
        'INTO OUTFILE is not allowed on the SQL endpoint',
      );
    }
    if (lower === 'from' && upper(next) === 'INFILE') {
      throw new SqlEndpointError('ACCESS_DENIED', 'FROM INFILE is not allowed on the SQL endpoint');
    }
  });
}

/** The FORMAT clause at the end (`... FORMAT JSON [SETTINGS ...]`), if any. */
function findFormat(
  tokens: readonly Token[],
  level: readonly number[],
  base: number,
): { index: number; name: string } | undefined {
  for (let i = tokens.length - 2; i >= 0; i -= 1) {
    if (level[i] !== base || upper(tokens[i]) !== 'FORMAT') continue;
    const name = tokens[i + 1];
    if (name?.type !== 'word') return undefined;
    const rest = tokens[i + 2];
    if (rest !== undefined && upper(rest) !== 'SETTINGS') return undefined;
    return { index: i, name: name.text };
  }
  return undefined;
}

/**
 * Classify `input`: returns the statement to run, or throws `SqlEndpointError`
 * (SYNTAX_ERROR for an empty or multi-statement input, READONLY for anything that
 * writes, ACCESS_DENIED for files and network).
 */
export function classifyStatement(input: string): ReadStatement {
  let tokens = tokenize(input);
  // Trailing semicolons end the statement; anything after one is a second statement.
  while (tokens.at(-1)?.text === ';') tokens = tokens.slice(0, -1);
  if (tokens.length === 0) throw new SqlEndpointError('EMPTY_QUERY');
  if (tokens.some((token) => token.type === 'punct' && token.text === ';')) {
    throw new SqlEndpointError(
      'SYNTAX_ERROR',
      'Multi-statements are not allowed: send one statement per request',
    );
  }

  const level = depths(tokens);
  let first = 0;
  while (tokens[first]?.text === '(') first += 1;
  const keyword = upper(tokens[first]);
  if (!READ_STARTS.has(keyword)) {
    const shown = tokens[first]?.text.slice(0, 40) ?? '';
    throw readonlyError(
      `${shown.toUpperCase()} is not a read statement; allowed: ${[...READ_STARTS].join(', ')}`,
    );
  }
  const base = level[first] ?? 0;

  if (keyword === 'WITH') {
    // The main statement after the WITH list decides: ClickHouse parses
    // `WITH ... INSERT INTO ...`, so a WITH is not read-only by its first word.
    for (let i = first + 1; i < tokens.length; i += 1) {
      if (level[i] !== base) continue;
      if (upper(tokens[i]) === 'SELECT') break;
      if (isWriteKeyword(tokens, i)) {
        throw readonlyError(`WITH ... ${upper(tokens[i])} is not a read statement`);
      }
    }
  } else if (keyword === 'EXPLAIN') {
    tokens.forEach((_, i) => {
      if (isWriteKeyword(tokens, i)) {
        throw readonlyError(`EXPLAIN ... ${upper(tokens[i])} is not explained here`);
      }
    });
  }
  checkEverywhere(tokens);

  const format = findFormat(tokens, level, base);
  const last = tokens.at(-1);
  if (!format) return { sql: input.slice(0, last?.end ?? input.length), keyword };
  const formatToken = tokens[format.index];
  const nameToken = tokens[format.index + 1];
  const head = input.slice(0, formatToken?.start ?? 0);
  const tail = input.slice(nameToken?.end ?? 0, last?.end ?? input.length);
  return { sql: `${head}${tail}`.trim(), format: format.name, keyword };
}
