import type { IncomingMessage } from 'node:http';
import type { Logger } from 'pino';
import type { AdminAction, AdminLog, Outcome } from '../admin/index.js';
import { actorOf } from './auth.js';
import type { Principal } from './auth.js';

/**
 * The API's admin-log entries: retention changes, exports, SQL statements, and
 * attempts at them that were denied. Without an admin log (option `adminLog`) nothing
 * is recorded. `record` never throws and never delays the response; `recordNow`
 * resolves once the row is in ClickHouse (or failed, logged), for actions whose
 * answer should not go out before their audit row exists.
 */

export interface AuditEntry {
  action: AdminAction;
  outcome: Outcome;
  /** The org acted on; '' for actions across orgs (SQL). */
  orgId: string;
  principal: Principal;
  req: IncomingMessage;
  metadata?: Record<string, unknown>;
}

export interface Audit {
  record(entry: AuditEntry): void;
  recordNow(entry: AuditEntry): Promise<void>;
}

export function createAudit(adminLog: Pick<AdminLog, 'record'> | undefined, log: Logger): Audit {
  const recordNow = async (entry: AuditEntry): Promise<void> => {
    if (!adminLog) return;
    try {
      await adminLog.record({
        orgId: entry.orgId,
        action: entry.action,
        outcome: entry.outcome,
        ...actorOf(entry.principal),
        metadata: {
          ...entry.metadata,
          remoteAddress: entry.req.socket.remoteAddress ?? '',
        },
      });
    } catch (err) {
      // The admin log counts and logs its own refusals; this names the action lost.
      log.warn({ err, action: entry.action, outcome: entry.outcome }, 'admin action not recorded');
    }
  };
  return {
    record(entry) {
      void recordNow(entry);
    },
    recordNow,
  };
}
