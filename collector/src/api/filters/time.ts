/**
 * `from` / `to`: RFC 3339 timestamps or unix seconds, to millisecond precision (the
 * store's DateTime64(3) resolution; finer digits are truncated).
 */

const RFC3339 =
  /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?([Zz]|([+-])(\d{2}):(\d{2}))$/;
const UNIX_SECONDS = /^(\d{1,15})(?:\.(\d{1,9}))?$/;

/** Largest instant DateTime64(3) holds (2299-12-31T23:59:59.999Z). */
export const MAX_TIME_MS = Date.UTC(2299, 11, 31, 23, 59, 59, 999);

function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

function millis(fraction: string | undefined): number {
  return fraction === undefined ? 0 : Number(fraction.slice(0, 3).padEnd(3, '0'));
}

/** Milliseconds since the epoch, or a sentence saying what is wrong. */
export function parseTime(value: string): number | string {
  const text = value.trim();
  const unix = UNIX_SECONDS.exec(text);
  if (unix) {
    const ms = Number(unix[1]) * 1000 + millis(unix[2]);
    if (ms > MAX_TIME_MS) {
      return `${text} is after the year 2299 (unix time is in seconds, not milliseconds)`;
    }
    return ms;
  }
  const m = RFC3339.exec(text);
  if (!m) return `"${text}" is neither RFC 3339 (2024-05-01T12:00:00Z) nor unix seconds`;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  if (month < 1 || month > 12) return `month ${month} is out of range`;
  if (day < 1 || day > daysInMonth(year, month)) return `day ${day} is out of range`;
  if (hour > 23 || minute > 59 || second > 60) return `time of day is out of range`;
  let offsetMinutes = 0;
  if (m[9] !== undefined) {
    const hours = Number(m[10]);
    const minutes = Number(m[11]);
    if (hours > 23 || minutes > 59) return `UTC offset is out of range`;
    offsetMinutes = (m[9] === '-' ? -1 : 1) * (hours * 60 + minutes);
  }
  // A leap second (":60") is read as the last millisecond of its minute.
  const seconds = Math.min(second, 59);
  const extra = second === 60 ? 999 : millis(m[7]);
  const ms = Date.UTC(year, month - 1, day, hour, minute, seconds, extra) - offsetMinutes * 60_000;
  if (ms < 0 || ms > MAX_TIME_MS) return `${text} is outside 1970..2299`;
  return ms;
}

/** RFC 3339 UTC with milliseconds: `2024-05-01T12:00:00.000Z`. */
export function formatTime(ms: number): string {
  return new Date(ms).toISOString();
}
