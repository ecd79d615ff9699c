import { ITEM_FIELDS } from '../columns.js';
import { csvLine } from '../csv.js';
import { CSV_RECORD_FORMAT, CSV_RECORD_SQL, CsvRecordCounter } from '../csv_sql.js';
import { parseExportQuery } from '../filters/parse.js';
import { QueryParams } from '../filters/params.js';
import { buildWhere } from '../filters/sql.js';
import { queryObject, writeChunk } from '../http.js';
import type { RequestContext, Route } from '../router.js';
import type { RouteDeps } from '../types.js';
import { NETWORK_LOGS_PATH, orgParam } from './network_logs.js';

/**
 * `GET …/network-logs/export`: every matching row as CSV, newest first, streamed.
 * Memory stays constant: the engine renders the CSV records (csv_sql.ts) and the
 * chunks it streams go to the socket as they are; the loop waits for the socket to
 * drain before it pulls more. A client that disconnects aborts the query.
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
  const where = buildWhere(org, filters, undefined, new QueryParams());
  const sql = `SELECT ${CSV_RECORD_SQL}
FROM ${deps.store.database}.network_logs
WHERE ${where.sql}
ORDER BY started_at DESC, session_id DESC`;
  const started = performance.now();
  const outcome = { rows: 0, failed: false };
  try {
    await streamCsv(
      deps,
      ctx,
      { sql, where, filename: exportFilename(org, filters, now) },
      outcome,
    );
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

function exportFilename(org: string, filters: { fromMs: number; toMs?: number }, now: number) {
  return `connlog-${org}-${fileTime(filters.fromMs)}-${fileTime(filters.toMs ?? now)}.csv`;
}

async function streamCsv(
  deps: RouteDeps,
  ctx: RequestContext,
  query: { sql: string; where: { params: Record<string, unknown> }; filename: string },
  outcome: { rows: number },
): Promise<void> {
  const stream = deps.store.queryStream(query.sql, query.where.params, CSV_RECORD_FORMAT, {
    readonly: true,
    signal: ctx.signal,
  });
  const chunks = stream[Symbol.asyncIterator]();
  const counter = new CsvRecordCounter();
  try {
    // Pull the first chunk before the headers go out, so a failing query still gets
    // a proper error status instead of a truncated 200.
    const first = await chunks.next();
    ctx.res.writeHead(200, {
      'content-type': 'text/csv; charset=utf-8; header=present',
      'content-disposition': `attachment; filename="${query.filename}"`,
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
    });
    const send = async (chunk: Uint8Array): Promise<void> => {
      counter.push(chunk);
      outcome.rows = counter.records;
      await writeChunk(ctx.res, chunk, ctx.signal);
    };
    await writeChunk(ctx.res, csvLine(ITEM_FIELDS), ctx.signal);
    if (!first.done) await send(first.value);
    for (let next = await chunks.next(); !next.done; next = await chunks.next()) {
      if (ctx.signal.aborted) break;
      await send(next.value);
    }
    if (!ctx.signal.aborted) ctx.res.end();
  } catch (err) {
    if (!ctx.signal.aborted) throw err;
  } finally {
    // Releases the store's stream if the loop ended early.
    await chunks.return?.(undefined);
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
