import { ITEM_FIELDS } from '../columns.js';
import { csvLine } from '../csv.js';
import { CSV_RECORD_FORMAT, CSV_RECORD_SQL, CsvRecordCounter } from '../csv_sql.js';
import { exportWindows, type CandidateDay } from '../export_windows.js';
import { parseExportQuery, type NetworkLogFilters } from '../filters/parse.js';
import { QueryParams } from '../filters/params.js';
import { buildWhere } from '../filters/sql.js';
import { queryObject, writeChunk } from '../http.js';
import type { RequestContext, Route } from '../router.js';
import type { RouteDeps } from '../types.js';
import { NETWORK_LOGS_PATH, orgParam } from './network_logs.js';

/**
 * `GET …/network-logs/export`: every matching row as CSV, newest first, streamed.
 * Memory stays constant: one query per day or slice of a day (export_windows.ts), the
 * engine renders the CSV records (csv_sql.ts) and the chunks it streams go to the socket
 * as they are; the loop pulls at most one chunk ahead of the socket's drain. A client
 * that disconnects aborts the query.
 */

/** `20240501T120000Z`: sortable and safe in file names on every OS. */
function fileTime(ms: number): string {
  return new Date(ms)
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');
}

async function exportCsv(deps: RouteDeps, ctx: RequestContext): Promise<void> {
  const org = orgParam(ctx);
  const now = deps.now();
  const filters = parseExportQuery(ctx.url.searchParams, now);
  const started = performance.now();
  const outcome = { rows: 0, failed: false };
  try {
    const windows = exportWindows(filters, await candidateDays(deps, ctx, org, filters));
    const queries = windows.map((window) => {
      const where = buildWhere(org, window, undefined, new QueryParams());
      return {
        sql: `SELECT ${CSV_RECORD_SQL}
FROM ${deps.store.database}.network_logs
WHERE ${where.sql}
ORDER BY started_at DESC, session_id DESC`,
        params: where.params,
      };
    });
    await streamCsv(deps, ctx, { queries, filename: exportFilename(org, filters, now) }, outcome);
  } catch (err) {
    outcome.failed = !ctx.signal.aborted;
    throw err;
  } finally {
    deps.telemetry.exportFinished({
      org,
      rows: outcome.rows,
      aborted: ctx.signal.aborted,
      seconds: (performance.now() - started) / 1000,
    });
    deps.audit.record({
      action: 'logs.export',
      outcome: outcome.failed ? 'error' : 'success',
      orgId: org,
      principal: ctx.principal,
      req: ctx.req,
      metadata: {
        filters: queryObject(ctx.url.searchParams),
        rows: outcome.rows,
        aborted: ctx.signal.aborted,
      },
    });
  }
}

/**
 * UTC days (ms) holding rows that may match, with their row counts: the filters over
 * every stored version (no FINAL), a superset of the days of the matching sessions
 * (and an upper bound of their counts), since a session's versions share its
 * `started_at` and its latest version is one of them. Reads little: the primary key
 * narrows it to the org's rows in the time range.
 */
async function candidateDays(
  deps: RouteDeps,
  ctx: RequestContext,
  org: string,
  filters: NetworkLogFilters,
): Promise<CandidateDay[]> {
  const where = buildWhere(org, filters, undefined, new QueryParams());
  const rows = await deps.store.query<{ day: number | string; rows: number | string }>(
    `SELECT toUnixTimestamp(toStartOfDay(started_at)) AS day, count() AS rows
FROM ${deps.store.database}.sessions
WHERE ${where.sql}
GROUP BY day`,
    where.params,
    { readonly: true, signal: ctx.signal },
  );
  return rows.map((row) => ({ day: Number(row.day) * 1000, rows: Number(row.rows) }));
}

function exportFilename(org: string, filters: { fromMs: number; toMs?: number }, now: number) {
  return `connlog-${org}-${fileTime(filters.fromMs)}-${fileTime(filters.toMs ?? now)}.csv`;
}

async function streamCsv(
  deps: RouteDeps,
  ctx: RequestContext,
  plan: { queries: { sql: string; params: Record<string, unknown> }[]; filename: string },
  outcome: { rows: number },
): Promise<void> {
  const counter = new CsvRecordCounter();
  const open = (query: { sql: string; params: Record<string, unknown> }) => {
    const stream = deps.store.queryStream(query.sql, query.params, CSV_RECORD_FORMAT, {
      readonly: true,
      bulk: true,
      signal: ctx.signal,
    });
    return stream[Symbol.asyncIterator]();
  };
  const [firstQuery, ...rest] = plan.queries;
  let chunks = firstQuery === undefined ? undefined : open(firstQuery);
  try {
    // Pull the first chunk before the headers go out, so a failing query still gets
    // a proper error status instead of a truncated 200.
    const first = await chunks?.next();
    ctx.res.writeHead(200, {
      'content-type': 'text/csv; charset=utf-8; header=present',
      'content-disposition': `attachment; filename="${plan.filename}"`,
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
    });
    const send = async (chunk: Uint8Array): Promise<void> => {
      counter.push(chunk);
      outcome.rows = counter.records;
      await writeChunk(ctx.res, chunk, ctx.signal);
    };
    // Each chunk is written while the engine renders the next: that one is asked for
    // before the write waits for the socket to drain, so the two overlap instead of
    // taking turns. One chunk ahead at most (~0.6 MB).
    const pump = async (first: IteratorResult<Uint8Array> | undefined): Promise<void> => {
      let current = first;
      while (current !== undefined && current.done !== true && !ctx.signal.aborted) {
        const ahead = chunks?.next();
        // Awaited below; if the write fails first, the stream's return() settles it.
        ahead?.catch(() => undefined);
        await send(current.value);
        current = await ahead;
      }
    };
    await writeChunk(ctx.res, csvLine(ITEM_FIELDS), ctx.signal);
    await pump(first);
    for (;;) {
      await chunks?.return?.(undefined);
      const query = rest.shift();
      if (query === undefined || ctx.signal.aborted) break;
      chunks = open(query);
      await pump(await chunks.next());
    }
    if (!ctx.signal.aborted) ctx.res.end();
  } catch (err) {
    if (!ctx.signal.aborted) throw err;
  } finally {
    // Releases the store's stream if the loop ended early.
    await chunks?.return?.(undefined);
  }
}

export function exportRoute(deps: RouteDeps): Route {
  return {
    method: 'GET',
    path: `${NETWORK_LOGS_PATH}/export`,
    name: 'network_logs_export',
    access: 'export',
    audit: 'logs.export',
    handle: (ctx) => exportCsv(deps, ctx),
  };
}
