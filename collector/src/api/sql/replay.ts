import { QueryParams } from '../filters/params.js';

/**
 * The embedded engine cannot stream SHOW, DESCRIBE, EXISTS or EXPLAIN ("Streaming
 * query is not supported"). Those results are small, so the endpoint runs such a
 * statement as a plain query (JSONEachRow rows) and then has the engine render the
 * rows in the requested format with a SELECT over array parameters: every format
 * keeps working, and no value is spliced into SQL text. Column names come from the
 * engine's own result and are quoted as identifiers. Types are reduced to what
 * JSON tells (Int64, Float64, UInt8, String, Nullable when a null shows up); an empty
 * result renders as nothing.
 */

export function isUnstreamable(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 6; depth += 1) {
    if (e.message.includes('Streaming query is not supported')) return true;
    e = e.cause;
  }
  return false;
}

function quoteIdentifier(name: string): string {
  return `\`${name.replace(/\\/g, '\\\\').replace(/`/g, '\\`')}\``;
}

function columnType(values: unknown[]): { type: string; values: unknown[] } {
  const present = values.filter((v) => v !== null && v !== undefined);
  const nullable = present.length < values.length;
  const wrap = (type: string): string => `Array(${nullable ? `Nullable(${type})` : type})`;
  const keep = (convert: (v: unknown) => unknown) => (v: unknown) =>
    v === null || v === undefined ? null : convert(v);
  if (present.every((v) => typeof v === 'number' && Number.isInteger(v))) {
    return { type: wrap('Int64'), values: values.map(keep((v) => v)) };
  }
  if (present.every((v) => typeof v === 'number')) {
    return { type: wrap('Float64'), values: values.map(keep((v) => v)) };
  }
  if (present.every((v) => typeof v === 'boolean')) {
    return { type: wrap('UInt8'), values: values.map(keep((v) => (v ? 1 : 0))) };
  }
  return {
    type: wrap('String'),
    values: values.map(keep((v) => (typeof v === 'string' ? v : JSON.stringify(v)))),
  };
}

/** A SELECT that returns `rows` (in order) with their column names, or undefined when empty. */
export function selectRows(
  rows: readonly Record<string, unknown>[],
): { sql: string; params: Record<string, unknown> } | undefined {
  const first = rows[0];
  if (!first) return undefined;
  const params = new QueryParams();
  const columns = Object.keys(first).map((name) => {
    const { type, values } = columnType(rows.map((row) => row[name]));
    return `${params.add(type, values)}[i] AS ${quoteIdentifier(name)}`;
  });
  const count = params.add('UInt64', rows.length);
  return {
    sql: `SELECT ${columns.join(', ')} FROM (SELECT arrayJoin(range(1, ${count} + 1)) AS i) ORDER BY i`,
    params: params.values,
  };
}
