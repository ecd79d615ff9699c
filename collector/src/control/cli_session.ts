/**
 * What the admin CLI commands (`apikey`, `retention`) share: a NATS connection made
 * from the collector's config, the identity they record as actor, and recording an
 * action through the admin relay.
 */
import { hostname, userInfo } from 'node:os';
import type { NatsConnection } from '@nats-io/transport-node';
import { Registry } from '@connlog/metrics';
import { pino, type Logger } from 'pino';
import type { AdminActionRecord } from '../admin/index.js';
import type { CollectorConfig } from '../config.js';
import { connectNats } from '../ingest/nats.js';
import { createTelemetry } from '../telemetry.js';
import { publishAdminAction } from './relay.js';

/** The CLI's actor: the OS user, and `user@host` as its stable id. */
export interface CliActor {
  actor: string;
  actorId: string;
}

export function cliActor(
  env: Readonly<Record<string, string | undefined>> = process.env,
): CliActor {
  let user: string;
  try {
    user = userInfo().username;
  } catch {
    // No passwd entry (some containers): fall back to what the shell says.
    user = env.USER ?? env.LOGNAME ?? `uid:${String(process.getuid?.() ?? 'unknown')}`;
  }
  return { actor: user, actorId: `${user}@${hostname()}` };
}

export interface CliSession {
  nc: NatsConnection;
  log: Logger;
  actor: CliActor;
  /** `cli:<user>`: how settings and keys record who changed them. */
  label: string;
  /**
   * Record an admin action (actor type `cli`); resolves once JetStream holds it, and a
   * running collector writes it to the admin log.
   */
  record(action: Omit<AdminActionRecord, 'actorType' | 'actor' | 'actorId' | 'at'>): Promise<void>;
  close(): Promise<void>;
}

/** Warnings (a bad KV value...) on stderr; stdout stays the command's output. */
function cliLogger(): Logger {
  return pino({ name: 'connlog-collector', level: 'warn' }, pino.destination(2));
}

export async function openCliSession(config: CollectorConfig): Promise<CliSession> {
  const log = cliLogger();
  const nc = await connectNats(
    config.nats,
    createTelemetry(pino({ level: 'silent' }), new Registry()),
  );
  const actor = cliActor();
  let closed = false;
  return {
    nc,
    log,
    actor,
    label: `cli:${actor.actor}`,
    async record(action) {
      await publishAdminAction(
        nc,
        {
          orgId: action.orgId,
          action: action.action,
          outcome: action.outcome,
          metadata: { ...action.metadata, host: hostname() },
          ...actor,
        },
        config.nats.stream.replicas,
      );
    },
    async close() {
      if (closed) return;
      closed = true;
      await nc.drain().catch(() => nc.close());
    },
  };
}

/**
 * Open a CLI session and, on its connection, what the command works with (`open`:
 * the API keys, the retention settings); run `fn` with both, then close both, the
 * resource first.
 */
export async function withCliSession<R extends { close(): Promise<void> }, T>(
  config: CollectorConfig,
  open: (session: CliSession) => Promise<R>,
  fn: (resource: R, session: CliSession) => Promise<T>,
): Promise<T> {
  const session = await openCliSession(config);
  try {
    const resource = await open(session);
    try {
      return await fn(resource, session);
    } finally {
      await resource.close();
    }
  } finally {
    await session.close();
  }
}
