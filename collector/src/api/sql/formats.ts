/**
 * Output formats of the SQL endpoint: ClickHouse's default (`TabSeparated`) and the
 * Content-Type ClickHouse's HTTP interface sends for each family. Any format name
 * the engine knows works; a name that is not a plain identifier is refused here.
 */
export const DEFAULT_FORMAT = 'TabSeparated';

const FORMAT_NAME = /^[A-Za-z][A-Za-z0-9]{0,63}$/;

export function isFormatName(name: string): boolean {
  return FORMAT_NAME.test(name);
}

export function contentTypeOf(format: string): string {
  const f = format.toLowerCase();
  if (f.startsWith('json') || f === 'ndjson' || f === 'jsonl') {
    return f === 'json' || f === 'jsoncompact' || f.startsWith('jsonstrings') || f === 'jsoncolumns'
      ? 'application/json; charset=UTF-8'
      : 'application/x-ndjson; charset=UTF-8';
  }
  if (f.startsWith('tabseparated') || f.startsWith('tsv')) {
    return 'text/tab-separated-values; charset=UTF-8';
  }
  if (f.startsWith('csv')) return 'text/csv; charset=UTF-8; header=present';
  if (f.startsWith('xml')) return 'application/xml; charset=UTF-8';
  if (
    f.startsWith('pretty') ||
    f === 'vertical' ||
    f === 'markdown' ||
    f === 'values' ||
    f === 'null'
  ) {
    return 'text/plain; charset=UTF-8';
  }
  return 'application/octet-stream';
}
