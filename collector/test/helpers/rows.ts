import { randomUUID } from 'node:crypto';
import type { SessionRow } from '../../src/store/store.js';

/** A plausible `sessions` row; override what the test is about. */
export function sessionRow(overrides: Partial<SessionRow> = {}): SessionRow {
  const started = overrides.started_at ?? Date.UTC(2030, 0, 1, 12, 0, 0);
  return {
    org_id: 'acme',
    site_id: 'berlin',
    agent_id: 'agent-1',
    resource_id: 'db',
    session_id: randomUUID(),
    protocol: 'tcp',
    client_id: '',
    user_id: '',
    source_ip: '::ffff:192.0.2.10',
    source_port: 50000,
    dest_ip: '::ffff:10.0.0.5',
    dest_port: 5432,
    dest_host: '10.0.0.5',
    started_at: started,
    ended_at: null,
    duration_ms: 0,
    bytes_tx: 0,
    bytes_rx: 0,
    packets_tx: 0,
    packets_rx: 0,
    close_reason: '',
    error: '',
    status: 'ongoing',
    retention_days: 30,
    version: 1,
    ...overrides,
  };
}
