/**
 * CSV per RFC 4180 (CRLF line ends, fields quoted when they hold `"`, `,`, CR or LF),
 * with spreadsheet formula injection neutralized: a text cell starting with `=`,
 * `+`, `-`, `@`, tab or CR gets a leading `'`, so a spreadsheet shows it as text
 * instead of evaluating it. Numbers are written as numbers (a negative number is
 * not a formula).
 */

const FORMULA_START = /^[=+\-@\t\r]/;
const NEEDS_QUOTES = /[",\r\n]/;

export function csvCell(value: string | number | null | undefined): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : '';
  const safe = FORMULA_START.test(value) ? `'${value}` : value;
  return NEEDS_QUOTES.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

export function csvLine(values: readonly (string | number | null | undefined)[]): string {
  return `${values.map(csvCell).join(',')}\r\n`;
}
