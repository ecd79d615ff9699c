import { connlog } from './generated/connlog.js';

export const EventKind = connlog.v1.EventKind;
export type EventKind = connlog.v1.EventKind;
export const Protocol = connlog.v1.Protocol;
export type Protocol = connlog.v1.Protocol;
export const CloseReason = connlog.v1.CloseReason;
export type CloseReason = connlog.v1.CloseReason;

/** Analyst-facing protocol names, as stored in ClickHouse. */
export type ProtocolName = 'tcp' | 'udp';

/** Analyst-facing close reasons, as stored in ClickHouse (empty while ongoing). */
export type CloseReasonName =
  | 'client_closed'
  | 'target_closed'
  | 'idle_timeout'
  | 'dial_failed'
  | 'dial_timeout'
  | 'reset'
  | 'agent_shutdown'
  | 'agent_restart'
  | 'error';

export const CLOSE_REASON_NAMES: readonly CloseReasonName[] = [
  'client_closed',
  'target_closed',
  'idle_timeout',
  'dial_failed',
  'dial_timeout',
  'reset',
  'agent_shutdown',
  'agent_restart',
  'error',
];

export const PROTOCOL_NAMES: readonly ProtocolName[] = ['tcp', 'udp'];

const closeReasonByValue = new Map<CloseReason, CloseReasonName>([
  [CloseReason.CLIENT_CLOSED, 'client_closed'],
  [CloseReason.TARGET_CLOSED, 'target_closed'],
  [CloseReason.IDLE_TIMEOUT, 'idle_timeout'],
  [CloseReason.DIAL_FAILED, 'dial_failed'],
  [CloseReason.DIAL_TIMEOUT, 'dial_timeout'],
  [CloseReason.RESET, 'reset'],
  [CloseReason.AGENT_SHUTDOWN, 'agent_shutdown'],
  [CloseReason.AGENT_RESTART, 'agent_restart'],
  [CloseReason.ERROR, 'error'],
]);

const closeReasonByName = new Map<string, CloseReason>(
  [...closeReasonByValue].map(([value, name]): [string, CloseReason] => [name, value]),
);

/** `CloseReason` → its analyst name; `''` for UNSPECIFIED (ongoing sessions). */
export function closeReasonName(reason: CloseReason): CloseReasonName | '' {
  return closeReasonByValue.get(reason) ?? '';
}

/** Analyst name → `CloseReason`, or undefined when unknown. */
export function closeReasonFromName(name: string): CloseReason | undefined {
  return closeReasonByName.get(name);
}

export function protocolName(protocol: Protocol): ProtocolName | '' {
  if (protocol === Protocol.TCP) return 'tcp';
  if (protocol === Protocol.UDP) return 'udp';
  return '';
}
