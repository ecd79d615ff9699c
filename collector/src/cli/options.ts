import { Option } from 'commander';
import type { Command } from 'commander';
import { DEFAULT_URL } from './sql.js';

/**
 * Options the people-facing commands share: where the collector is, the API key,
 * the org, and the network-log filters as flags (each one maps to the API parameter
 * of the same meaning; repeatable where the API takes several values).
 */

export interface ConnectionFlags {
  url: string;
  apiKey?: string;
  org: string;
}

/** Flag (commander attribute) → API query parameter. */
const FILTER_FLAGS = [
  {
    flag: '--from <time>',
    attr: 'from',
    param: 'from',
    help: 'sessions started at or after (RFC 3339 or unix seconds; default: 24 h ago)',
  },
  { flag: '--to <time>', attr: 'to', param: 'to', help: 'sessions started before (exclusive)' },
  { flag: '--site <id>', attr: 'site', param: 'site', many: true, help: 'site id' },
  { flag: '--resource <id>', attr: 'resource', param: 'resource', many: true, help: 'resource id' },
  { flag: '--client <id>', attr: 'client', param: 'client', many: true, help: 'client id' },
  { flag: '--user <id>', attr: 'user', param: 'user', many: true, help: 'user id' },
  {
    flag: '--protocol <tcp|udp>',
    attr: 'protocol',
    param: 'protocol',
    many: true,
    help: 'protocol',
  },
  {
    flag: '--source <addr>',
    attr: 'source',
    param: 'source',
    many: true,
    help: 'client address: IP, CIDR, ip:port or [ipv6]:port',
  },
  {
    flag: '--dest <addr>',
    attr: 'dest',
    param: 'dest',
    many: true,
    help: 'target address, same forms',
  },
  {
    flag: '--dest-port <port>',
    attr: 'destPort',
    param: 'destPort',
    many: true,
    help: 'target port',
  },
  {
    flag: '--status <status>',
    attr: 'status',
    param: 'status',
    many: true,
    help: 'ongoing or completed',
  },
  {
    flag: '--close-reason <reason>',
    attr: 'closeReason',
    param: 'closeReason',
    many: true,
    help: 'client_closed, target_closed, idle_timeout, dial_failed, …',
  },
  {
    flag: '--min-bytes <n>',
    attr: 'minBytes',
    param: 'minBytes',
    help: 'at least this many bytes in total (tx + rx)',
  },
  {
    flag: '--session-id <uuid>',
    attr: 'sessionId',
    param: 'sessionId',
    many: true,
    help: 'session id',
  },
] as const;

type FilterAttr = (typeof FILTER_FLAGS)[number]['attr'];
export type FilterFlags = Partial<Record<FilterAttr, string | string[]>>;

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/** `--url`, `--api-key`, `--org`, each with its environment variable. */
export function addConnectionOptions(command: Command): Command {
  return command
    .addOption(
      new Option('--url <url>', 'collector base URL').env('CONNLOG_URL').default(DEFAULT_URL),
    )
    .addOption(
      new Option('--api-key <key>', 'API key (clk_…); prefer the environment variable').env(
        'CONNLOG_API_KEY',
      ),
    )
    .addOption(
      new Option('--org <org>', 'organization id').env('CONNLOG_ORG').makeOptionMandatory(),
    );
}

/** The filter flags; the live tail leaves out `--from`/`--to`. */
export function addFilterOptions(command: Command, { time = true } = {}): Command {
  for (const spec of FILTER_FLAGS) {
    if (!time && (spec.attr === 'from' || spec.attr === 'to')) continue;
    if ('many' in spec && spec.many)
      command.option(spec.flag, `${spec.help} (repeatable)`, collect);
    else command.option(spec.flag, spec.help);
  }
  return command;
}

/** The filter flags as the API's query parameters, in flag order. */
export function filterParams(flags: FilterFlags): URLSearchParams {
  const search = new URLSearchParams();
  for (const spec of FILTER_FLAGS) {
    const value = flags[spec.attr];
    if (value === undefined) continue;
    for (const one of Array.isArray(value) ? value : [value]) search.append(spec.param, one);
  }
  return search;
}

/** API query parameter → the flag that sets it, for error messages. */
export function flagOf(param: string): string | undefined {
  return FILTER_FLAGS.find((spec) => spec.param === param)?.flag.split(' ')[0];
}
