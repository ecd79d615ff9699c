import { bytesToIp, ipToBytes } from '@connlog/proto';
import type { SessionRow } from '../../store/store.js';
import { displayIp } from '../columns.js';
import type { Item } from '../columns.js';
import { formatTime } from '../filters/time.js';

/**
 * A stored row as the list route would show it, without a round trip to the store:
 * the same fields in the same order, the same text for addresses and times. Two
 * values are the collector's view rather than ClickHouse's: `status` is derived from
 * `ended_at` (as the column DEFAULT does) and `inserted_at` is when the collector saw
 * the insert succeed, within milliseconds of the column's `now64(3)`.
 */

/** RFC 5952 text for any stored address, IPv4 shown dotted (as `toString(IPv6)` + displayIp). */
function ipText(stored: string): string {
  const bytes = ipToBytes(stored);
  if (bytes.length === 0) return stored;
  return bytes.length === 4 ? bytesToIp(bytes) : displayIp(bytesToIp(bytes));
}

/** `ip:port`, IPv6 in brackets: the `source_addr`/`dest_addr` ALIAS columns. */
function addr(ip: string, port: number): string {
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
}

export function sessionRowToItem(row: SessionRow, insertedAtMs: number): Item {
  const sourceIp = ipText(row.source_ip);
  const destIp = ipText(row.dest_ip);
  return {
    org_id: row.org_id,
    site_id: row.site_id,
    agent_id: row.agent_id,
    resource_id: row.resource_id,
    session_id: row.session_id.toLowerCase(),
    protocol: row.protocol,
    client_id: row.client_id,
    user_id: row.user_id,
    source_ip: sourceIp,
    source_port: row.source_port,
    dest_ip: destIp,
    dest_port: row.dest_port,
    dest_host: row.dest_host,
    started_at: formatTime(row.started_at),
    ended_at: row.ended_at === null ? null : formatTime(row.ended_at),
    duration_ms: row.duration_ms,
    bytes_tx: row.bytes_tx,
    bytes_rx: row.bytes_rx,
    packets_tx: row.packets_tx,
    packets_rx: row.packets_rx,
    close_reason: row.close_reason,
    error: row.error,
    status: row.ended_at === null ? 'ongoing' : 'completed',
    retention_days: row.retention_days,
    version: row.version,
    inserted_at: formatTime(insertedAtMs),
    source_addr: addr(sourceIp, row.source_port),
    dest_addr: addr(destIp, row.dest_port),
  };
}
