/**
 * Small text helpers shared by both engines, so a statement behaves the same whether
 * it runs in chDB or on a ClickHouse server.
 */

/**
 * Strip trailing whitespace and semicolons, then append `FORMAT <format>` on its own
 * line. The newline keeps a trailing `-- comment` from swallowing the clause. A statement
 * that already has a FORMAT clause then fails to parse on both engines (ClickHouse's
 * HTTP client appends FORMAT the same way), instead of silently returning another format.
 */
export function withFormat(sql: string, format: string): string {
  return `${stripTrailingSemicolons(sql)}\nFORMAT ${format}`;
}

export function stripTrailingSemicolons(sql: string): string {
  return sql.replace(/[\s;]+$/u, '');
}

const FORMAT_NAME = /^[A-Za-z][A-Za-z0-9]*$/;

/** Output format names are spliced into SQL, so only plain names pass. */
export function assertFormat(format: string): void {
  if (!FORMAT_NAME.test(format)) {
    throw new RangeError(
      `format must be a ClickHouse format name like CSV or JSONEachRow, got "${format}"`,
    );
  }
}

/** A bulk stream (`QueryOptions.bulk`) is a read: the embedded engine runs it read-only. */
export function assertBulkReadonly(options: { readonly?: boolean; bulk?: boolean } = {}): void {
  if (options.bulk === true && options.readonly !== true) {
    throw new RangeError('a bulk stream must be read-only (readonly: true)');
  }
}

/** Parse JSONEachRow text (one JSON object per line). */
export function parseJsonEachRow<T>(text: string): T[] {
  const rows: T[] = [];
  for (const line of text.split('\n')) {
    if (line !== '') rows.push(JSON.parse(line) as T);
  }
  return rows;
}

/**
 * A ClickHouse string literal: quoted, with backslash and quote escaped. For values
 * the collector itself puts into SQL (file paths, insert tokens); user values travel
 * as bound parameters instead.
 */
export function sqlString(value: string): string {
  return `'${value.replace(/[\\']/gu, (c) => `\\${c}`)}'`;
}
