import { describe, expect, it } from 'vitest';
import { ITEM_FIELDS } from '../../src/api/columns.js';
import { ApiError } from '../../src/api/errors.js';
import { parseFilters, parseLiveQuery } from '../../src/api/filters/parse.js';
import { sessionRowToItem } from '../../src/api/live/item.js';
import { ipToBigInt, matchesFilters } from '../../src/api/live/match.js';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import {
  SERVICE_LOG_FIELDS,
  attachServiceLog,
  serviceLogFields,
} from '../../src/api/service_log.js';
import { rowsStoredHook } from '../helpers/live.js';
import { sessionRow } from '../helpers/rows.js';

/** Filters as the list route parses them from a query string. */
function filters(query: string) {
  return parseFilters(new URLSearchParams(query), Date.UTC(2030, 0, 2));
}

function matches(query: string, overrides: Parameters<typeof sessionRow>[0] = {}): boolean {
  return matchesFilters(sessionRow(overrides), filters(query));
}

describe('matchesFilters', () => {
  it('matches everything with no filters (inside the default window)', () => {
    expect(matches('')).toBe(true);
  });

  it('applies the time window like the SQL (from inclusive, to exclusive)', () => {
    const at = Date.UTC(2030, 0, 1, 12);
    expect(matches('from=2030-01-01T12:00:00Z', { started_at: at })).toBe(true);
    expect(matches('to=2030-01-01T12:00:00Z', { started_at: at })).toBe(false);
    expect(matches('from=2030-01-01T12:00:00.001Z', { started_at: at })).toBe(false);
    expect(matches('', { started_at: at - 2 * 86_400_000 })).toBe(false);
  });

  it('ORs values within a filter and ANDs filters', () => {
    expect(matches('site=paris&site=berlin')).toBe(true);
    expect(matches('site=paris')).toBe(false);
    expect(matches('site=berlin&protocol=udp')).toBe(false);
    expect(matches('user=alice&user=bob', { user_id: 'bob' })).toBe(true);
    expect(matches('client=c1', { client_id: 'c1' })).toBe(true);
    expect(matches('resource=web')).toBe(false);
  });

  it('derives status from ended_at, as the table does', () => {
    expect(matches('status=ongoing', { ended_at: null, status: 'completed' })).toBe(true);
    expect(matches('status=completed', { ended_at: Date.UTC(2030, 0, 1, 13) })).toBe(true);
    expect(matches('status=completed', { ended_at: null })).toBe(false);
  });

  it('compares session ids without regard to case', () => {
    const id = '0190A8A0-0000-7000-8000-00000000000A';
    expect(matches(`sessionId=${id.toLowerCase()}`, { session_id: id })).toBe(true);
    expect(matches(`sessionId=${id}`, { session_id: id.toLowerCase() })).toBe(true);
  });

  it('matches close reasons, destination ports and minBytes', () => {
    expect(matches('closeReason=reset', { close_reason: 'reset' })).toBe(true);
    expect(matches('closeReason=reset', { close_reason: 'error' })).toBe(false);
    expect(matches('destPort=5432&destPort=53')).toBe(true);
    expect(matches('destPort=53')).toBe(false);
    expect(matches('minBytes=300', { bytes_tx: 100, bytes_rx: 200 })).toBe(true);
    expect(matches('minBytes=301', { bytes_tx: 100, bytes_rx: 200 })).toBe(false);
  });

  it('matches IPv4 addresses, ports and CIDRs in the mapped space', () => {
    const row = { source_ip: '::ffff:192.0.2.10', source_port: 50000 };
    expect(matches('source=192.0.2.10', row)).toBe(true);
    expect(matches('source=::ffff:192.0.2.10', row)).toBe(true);
    expect(matches('source=192.0.2.10:50000', row)).toBe(true);
    expect(matches('source=192.0.2.10:50001', row)).toBe(false);
    expect(matches('source=192.0.2.0/24', row)).toBe(true);
    expect(matches('source=192.0.3.0/24', row)).toBe(false);
    expect(matches('source=0.0.0.0/0', row)).toBe(true);
    expect(matches('source=::/0', row)).toBe(true);
    expect(matches('source=2001:db8::/32', row)).toBe(false);
    expect(matches('dest=10.0.0.0/8&dest=2001:db8::1')).toBe(true);
  });

  it('matches IPv6 addresses and networks, whatever their spelling', () => {
    const row = { dest_ip: '2001:db8:0:0:0:0:0:5', dest_port: 443 };
    expect(matches('dest=2001:db8::5', row)).toBe(true);
    expect(matches('dest=[2001:DB8::5]:443', row)).toBe(true);
    expect(matches('dest=[2001:db8::5]:80', row)).toBe(false);
    expect(matches('dest=2001:db8::/127', row)).toBe(false);
    expect(matches('dest=2001:db8::4/127', row)).toBe(true);
    expect(matches('dest=0.0.0.0/0', row)).toBe(false);
  });
});

describe('ipToBigInt', () => {
  it('maps IPv4 into ::ffff:0:0/96 and refuses non-addresses', () => {
    expect(ipToBigInt('0.0.0.1')).toBe(0xffff00000001n);
    expect(ipToBigInt('::ffff:0.0.0.1')).toBe(0xffff00000001n);
    expect(ipToBigInt('::1')).toBe(1n);
    expect(ipToBigInt('nope')).toBeUndefined();
  });
});

describe('parseLiveQuery', () => {
  it('takes the list filters but refuses a time window, naming the parameter', () => {
    expect(parseLiveQuery(new URLSearchParams('user=alice&protocol=tcp'))).toMatchObject({
      users: ['alice'],
      protocols: ['tcp'],
    });
    for (const name of ['from', 'to']) {
      let caught: unknown;
      try {
        parseLiveQuery(new URLSearchParams(`${name}=1714564800`));
      } catch (err) {
        caught = err;
      }
      expect(caught).toBeInstanceOf(ApiError);
      expect(caught).toMatchObject({ code: 'UNKNOWN_PARAMETER', param: name });
    }
    expect(() => parseLiveQuery(new URLSearchParams('limit=5'))).toThrow(/unknown query/);
    expect(() => parseLiveQuery(new URLSearchParams('protocol=icmp'))).toThrow(/protocol/);
  });
});

describe('sessionRowToItem', () => {
  it('has every item field, in order, shown as the list route shows them', () => {
    const item = sessionRowToItem(
      sessionRow({
        session_id: '0190A8A0-0000-7000-8000-00000000000B',
        dest_ip: '2001:db8:0:0::5',
        dest_port: 443,
        ended_at: null,
        status: 'completed',
      }),
      Date.UTC(2030, 0, 1, 12, 0, 1),
    );
    expect(Object.keys(item)).toEqual(ITEM_FIELDS);
    expect(item).toMatchObject({
      session_id: '0190a8a0-0000-7000-8000-00000000000b',
      source_ip: '192.0.2.10',
      source_addr: '192.0.2.10:50000',
      dest_ip: '2001:db8::5',
      dest_addr: '[2001:db8::5]:443',
      started_at: '2030-01-01T12:00:00.000Z',
      ended_at: null,
      status: 'ongoing',
      inserted_at: '2030-01-01T12:00:01.000Z',
    });
  });
});

describe('service log fields', () => {
  it('are flat scalars with the session error renamed', () => {
    const line = serviceLogFields(
      sessionRow({ error: 'connect ECONNREFUSED', close_reason: 'dial_failed' }),
      0,
    );
    expect(Object.keys(line)).toEqual([...SERVICE_LOG_FIELDS]);
    expect(line.session_error).toBe('connect ECONNREFUSED');
    for (const value of Object.values(line)) {
      expect(value === null || ['string', 'number'].includes(typeof value)).toBe(true);
    }
  });
});

describe('attachServiceLog', () => {
  it('logs one network_log line per stored row until detached', () => {
    const lines: Record<string, unknown>[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
        done();
      },
    });
    const log = pino({ level: 'info' }, sink);
    const hook = rowsStoredHook();
    const detach = attachServiceLog(hook.events, log);
    const a = sessionRow({ user_id: 'alice', bytes_tx: 7 });
    const b = sessionRow({ user_id: '{"level":60}', error: 'boom' });
    hook.emit([a, b]);
    detach();
    hook.emit([sessionRow()]);
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatchObject({
      level: 30,
      msg: 'network_log',
      session_id: a.session_id,
      user_id: 'alice',
      bytes_tx: 7,
      source_addr: '192.0.2.10:50000',
    });
    // Untrusted text stays a string value; it never becomes pino's own fields.
    expect(lines[1]).toMatchObject({ level: 30, user_id: '{"level":60}', session_error: 'boom' });
    expect(hook.listeners).toBe(0);
  });
});
