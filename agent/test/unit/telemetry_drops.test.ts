import { Registry } from '@connlog/metrics';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { DROP_LOG_INTERVAL_MS, Telemetry } from '../../src/telemetry.js';

describe('UDP drop telemetry', () => {
  it('counts every drop and logs at most once per interval, with the count since', () => {
    const lines: Record<string, unknown>[] = [];
    const log = pino(
      { level: 'warn' },
      { write: (line: string) => lines.push(JSON.parse(line) as Record<string, unknown>) },
    );
    const registry = new Registry();
    const telemetry = new Telemetry(log, registry);
    const t0 = 1_000_000;
    for (let i = 0; i < 5; i += 1) telemetry.udpDropped('dns', 'flows_full', t0 + i);
    telemetry.udpDropped('dns', 'too_large', t0);
    telemetry.udpDropped('dns', 'flows_full', t0 + DROP_LOG_INTERVAL_MS);
    expect(registry.render()).toContain(
      'connlog_agent_udp_datagrams_dropped_total{resource="dns",reason="flows_full"} 6',
    );
    expect(lines.map((line) => [line.reason, line.dropped])).toEqual([
      ['flows_full', 1],
      ['too_large', 1],
      ['flows_full', 5],
    ]);
  });
});
