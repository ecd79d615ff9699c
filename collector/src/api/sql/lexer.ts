import { SqlEndpointError } from '../errors.js';

/**
 * A lexer for ClickHouse SQL, just precise enough to classify a statement: it knows
 * where comments, string literals, quoted identifiers and heredocs begin and end, so
 * a `;` or a keyword inside one of them is never mistaken for structure. It follows
 * ClickHouse's own rules where they matter for that: nested block comments, `#`
 * comments only before a space or `!`, `''` and backslash escapes, `$tag$` heredocs.
 */

export type TokenType = 'word' | 'quoted' | 'string' | 'number' | 'punct';

export interface Token {
  type: TokenType;
  /** Source text of the token (for `word`, as written). */
  text: string;
  start: number;
  end: number;
}

const WORD_START = /[A-Za-z_\u0080-\uffff]/;
const WORD_PART = /[A-Za-z0-9_$\u0080-\uffff]/;
const HEREDOC = /^\$([A-Za-z0-9_]*)\$/;

function syntaxError(message: string, position: number): SqlEndpointError {
  return new SqlEndpointError(
    'SYNTAX_ERROR',
    `Syntax error: ${message} at position ${position + 1}`,
  );
}

/** Index just past the closing `quote`, honouring backslash escapes and doubled quotes. */
function skipQuoted(sql: string, start: number, quote: string): number {
  let i = start + 1;
  while (i < sql.length) {
    const c = sql[i];
    if (c === '\\') {
      i += 2;
      continue;
    }
    if (c === quote) {
      if (sql[i + 1] === quote) {
        i += 2;
        continue;
      }
      return i + 1;
    }
    i += 1;
  }
  throw syntaxError(
    `unterminated ${quote === "'" ? 'string literal' : 'quoted identifier'}`,
    start,
  );
}

/** Index just past a (possibly nested) block comment starting at `start`. */
function skipBlockComment(sql: string, start: number): number {
  let depth = 0;
  let i = start;
  while (i < sql.length) {
    if (sql.startsWith('/*', i)) {
      depth += 1;
      i += 2;
    } else if (sql.startsWith('*/', i)) {
      depth -= 1;
      i += 2;
      if (depth === 0) return i;
    } else {
      i += 1;
    }
  }
  throw syntaxError('multiline comment is not closed', start);
}

export function tokenize(sql: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < sql.length) {
    const c = sql[i] ?? '';
    const next = sql[i + 1] ?? '';
    if (/\s/.test(c)) {
      i += 1;
      continue;
    }
    if ((c === '-' && next === '-') || (c === '#' && (next === ' ' || next === '!'))) {
      const end = sql.indexOf('\n', i);
      i = end < 0 ? sql.length : end + 1;
      continue;
    }
    if (c === '#') throw syntaxError('unrecognized token "#"', i);
    if (c === '/' && next === '*') {
      i = skipBlockComment(sql, i);
      continue;
    }
    const start = i;
    if (c === "'") {
      i = skipQuoted(sql, i, "'");
      tokens.push({ type: 'string', text: sql.slice(start, i), start, end: i });
      continue;
    }
    if (c === '"' || c === '`') {
      i = skipQuoted(sql, i, c);
      tokens.push({ type: 'quoted', text: sql.slice(start, i), start, end: i });
      continue;
    }
    if (c === '$') {
      const tag = HEREDOC.exec(sql.slice(i, i + 256));
      if (tag) {
        const close = sql.indexOf(tag[0], i + tag[0].length);
        if (close < 0) throw syntaxError('unterminated heredoc', i);
        i = close + tag[0].length;
        tokens.push({ type: 'string', text: sql.slice(start, i), start, end: i });
        continue;
      }
    }
    if (/[0-9]/.test(c) || (c === '.' && /[0-9]/.test(next))) {
      i += 1;
      while (i < sql.length) {
        const d = sql[i] ?? '';
        if (/[0-9A-Za-z_.]/.test(d)) i += 1;
        else if ((d === '+' || d === '-') && /[eEpP]/.test(sql[i - 1] ?? '')) i += 1;
        else break;
      }
      tokens.push({ type: 'number', text: sql.slice(start, i), start, end: i });
      continue;
    }
    if (WORD_START.test(c)) {
      i += 1;
      while (i < sql.length && WORD_PART.test(sql[i] ?? '')) i += 1;
      tokens.push({ type: 'word', text: sql.slice(start, i), start, end: i });
      continue;
    }
    tokens.push({ type: 'punct', text: c, start, end: i + 1 });
    i += 1;
  }
  return tokens;
}
