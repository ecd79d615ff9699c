// Session event batches as simulated agents send them, pre-encoded: a template batch
// is encoded once per agent, and each new batch is a copy with fresh session ids
// written into the bytes, so the generator spends its CPU on publishing, not encoding.
// Events come in START/END pairs (seq 1 and 2 of one session), like short sessions.
import { CloseReason, EventKind, Protocol, encodeBatch } from '@connlog/proto';

const USERS = Array.from({ length: 50 }, (_, i) => `user-${i}@example.com`);
const RESOURCES = [
  ['db', 5432, [10, 0, 0, 5]],
  ['web', 443, [10, 0, 0, 80]],
  ['ssh', 22, [10, 0, 1, 20]],
  ['redis', 6379, [10, 0, 2, 7]],
];

const hex = (n, width) => n.toString(16).padStart(width, '0');

/** Session id of pair `i` of agent `agent` in batch `batch` (unique across all three). */
export function sessionId(batch, agent, i) {
  return `${hex(batch, 8)}-${hex(agent, 4)}-7000-8000-${hex(i, 12)}`;
}

/** The events of one batch (plain objects, as encodeBatch takes them). */
export function batchEvents({ org, site, agentId, agent, batch, events, at }) {
  const out = [];
  for (let k = 0; k < events; k += 1) {
    const pair = k >> 1;
    const end = (k & 1) === 1;
    const [resourceId, destPort, destIp] = RESOURCES[pair % RESOURCES.length];
    out.push({
      sessionId: sessionId(batch, agent, pair),
      kind: end ? EventKind.END : EventKind.START,
      seq: end ? 2 : 1,
      orgId: org,
      siteId: site,
      agentId,
      resourceId,
      protocol: Protocol.TCP,
      clientId: `client-${pair % 200}`,
      userId: USERS[pair % USERS.length],
      sourceIp: new Uint8Array([192, 168, (pair >> 8) & 63, (pair & 255) | 1]),
      sourcePort: 32768 + (pair % 28000),
      destIp: new Uint8Array(destIp),
      destPort,
      destHost: resourceId === 'web' ? 'intranet.corp' : destIp.join('.'),
      startedAtMs: at,
      eventAtMs: end ? at + 1500 : at,
      endedAtMs: end ? at + 1500 : 0,
      bytesTx: end ? 1200 + pair : 0,
      bytesRx: end ? 48_000 + pair * 3 : 0,
      closeReason: end ? CloseReason.CLIENT_CLOSED : 0,
    });
  }
  return out;
}

/**
 * A factory of encoded batches for one simulated agent: `next()` returns the bytes of
 * batch number `n` (1, 2, ...) with its own session ids, by patching a template.
 */
export function batchFactory({ org, site, agent, events, at }) {
  const agentId = `bench-agent-${agent}`;
  const template = Buffer.from(
    encodeBatch({
      agentId,
      batchSeq: 1,
      sentAtMs: at,
      orgId: org,
      siteId: site,
      agentVersion: 'bench',
      events: batchEvents({ org, site, agentId, agent, batch: 0, events, at }),
    }),
  );
  // Offsets of the 8 hex digits that carry the batch number in every session id.
  const offsets = [];
  for (let pair = 0; pair < events / 2; pair += 1) {
    const id = Buffer.from(sessionId(0, agent, pair));
    let from = 0;
    for (let copy = 0; copy < 2; copy += 1) {
      const at2 = template.indexOf(id, from);
      if (at2 < 0) throw new Error('session id not found in the template');
      offsets.push(at2);
      from = at2 + id.length;
    }
  }
  return {
    agentId,
    bytes: template.length,
    next(n) {
      const out = Buffer.from(template);
      const digits = Buffer.from(hex(n, 8));
      for (const offset of offsets) digits.copy(out, offset);
      return out;
    },
  };
}
