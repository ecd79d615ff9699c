import { ITEM_FIELDS, SELECT_LIST, rowToItem } from '../columns.js';
import { csvLine } from '../csv.js';
import { parseExportQuery } from '../filters/parse.js';
import { QueryParams } from '../filters/params.js';
import { buildWhere } from '../filters/sql.js';
import { queryObject, writeChunk } from '../http.js';
import { splitLines } from '../lines.js';
import type { RequestContext, Route } from '../router.js';
import type { RouteDeps } from '../types.js';
import { NETWORK_LOGS_PATH, orgParam } from './network_logs.js';

/**
 * `GET …/network-logs/export`: every matching row as CSV, newest first, streamed.
 * Memory stays constant: rows come from the store as a JSONEachRow stream, are
 * converted line by line, and the loop waits for the socket to drain before it
 * pulls more. A client that disconnects aborts the query.
 */

/** CSV text is gathered up to this size before one `write`, to keep syscalls few. */
const WRITE_BATCH_CHARS = 64 * 1024;

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
  const sql = `SELECT ${SELECT_LIST}
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
  const lines = splitLines(
    deps.store.queryStream(query.sql, query.where.params, 'JSONEachRow', {
      readonly: true,
      signal: ctx.signal,
    }),
  );
  try {
    // Pull the first line before the headers go out, so a failing query still gets
    // a proper error status instead of a truncated 200.
    const first = await lines.next();
    ctx.res.writeHead(200, {
      'content-type': 'text/csv; charset=utf-8; header=present',
      'content-disposition': `attachment; filename="${query.filename}"`,
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
    });
    let batch = csvLine(ITEM_FIELDS);
    const emit = async (line: string): Promise<void> => {
      const item = rowToItem(JSON.parse(line) as Record<string, unknown>);
      batch += csvLine(ITEM_FIELDS.map((field) => item[field]));
      outcome.rows += 1;
      if (batch.length >= WRITE_BATCH_CHARS) {
        const out = batch;
        batch = '';
        await writeChunk(ctx.res, out, ctx.signal);
      }
    };
    if (!first.done) await emit(first.value);
    for await (const line of lines) {
      if (ctx.signal.aborted) break;
      await emit(line);
    }
    if (!ctx.signal.aborted) ctx.res.end(batch);
  } catch (err) {
    if (!ctx.signal.aborted) throw err;
  } finally {
    // Releases the store's stream if the loop ended early.
    await lines.return(undefined);
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
