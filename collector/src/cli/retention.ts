/**
 * `connlog-collector retention get|set|list`: per-org retention, read and written
 * directly in NATS KV with the collector's config — the same bucket every collector
 * watches, so a `set` takes effect on every running collector within about a second,
 * and each one re-stamps the org's stored rows (its KV watch drives the same code as
 * `PUT /api/v1/orgs/{org}/retention`). A `set`, and a failed attempt at one, is
 * recorded in the admin log with actor type `cli` (see control/relay.ts).
 */
import { Option, type Command } from 'commander';
import type { CollectorConfig } from '../config.js';
import { withCliSession, type CliSession } from '../control/cli_session.js';
import {
  RETENTION_DROP,
  RETENTION_FOREVER,
  RetentionError,
  createRetentionSettings,
  validateOrgId,
  validateRetentionDays,
  type RetentionSettings,
} from '../retention/index.js';
import {
  EXIT_FAILURE,
  EXIT_USAGE,
  configOrExit,
  describeError,
  exitWith,
  withNatsConfigFlags,
  type ConfigFlags,
} from './config_flags.js';
import { formatTable, processIo, write, type CliIo } from './io.js';

type Format = 'text' | 'json';

function withSettings<T>(
  config: CollectorConfig,
  fn: (settings: RetentionSettings, session: CliSession) => Promise<T>,
): Promise<T> {
  return withCliSession(
    config,
    (session) =>
      createRetentionSettings({
        nc: session.nc,
        defaultDays: config.retention.defaultDays,
        log: session.log,
        bucket: config.retention.bucket,
        replicas: config.nats.stream.replicas,
      }),
    fn,
  );
}

export function describeDays(days: number): string {
  if (days === RETENTION_FOREVER) return 'keep forever';
  if (days === RETENTION_DROP) return 'do not store';
  return `${days} day${days === 1 ? '' : 's'}`;
}

/** The API's view of an org's retention (`GET …/retention` without `existingRows`). */
function view(settings: RetentionSettings, org: string): Record<string, unknown> {
  const own = settings.setting(org);
  return {
    org,
    days: settings.get(org),
    source: own ? 'org' : 'default',
    defaultDays: settings.defaultDays,
    updatedAt: own?.updatedAt ?? null,
    updatedBy: own?.updatedBy ?? null,
  };
}

async function checkedOrg(org: string, io: CliIo): Promise<boolean> {
  try {
    validateOrgId(org, '--org');
    return true;
  } catch (err) {
    await write(io.stderr, `${describeError(err)}\n`);
    return false;
  }
}

export async function retentionGet(
  config: CollectorConfig,
  org: string,
  format: Format,
  io: CliIo,
): Promise<number> {
  if (!(await checkedOrg(org, io))) return EXIT_USAGE;
  return withSettings(config, async (settings) => {
    const shown = view(settings, org);
    if (format === 'json') {
      await write(io.stdout, `${JSON.stringify(shown)}\n`);
      return 0;
    }
    const own = settings.setting(org);
    const source = own
      ? `own setting, changed ${own.updatedAt} by ${own.updatedBy || 'unknown'}`
      : 'the default, retention.defaultDays';
    await write(io.stdout, `${org}: ${describeDays(settings.get(org))} (${source})\n`);
    return 0;
  });
}

export async function retentionList(
  config: CollectorConfig,
  format: Format,
  io: CliIo,
): Promise<number> {
  return withSettings(config, async (settings) => {
    const list = settings.list();
    if (format === 'json') {
      await write(
        io.stdout,
        `${JSON.stringify({ defaultDays: settings.defaultDays, orgs: list })}\n`,
      );
      return 0;
    }
    await write(
      io.stdout,
      `default (orgs without a setting): ${describeDays(settings.defaultDays)}\n` +
        formatTable(
          ['ORG', 'DAYS', 'UPDATED', 'BY'],
          list.map((s) => [s.org, String(s.days), s.updatedAt, s.updatedBy]),
        ),
    );
    return 0;
  });
}

export async function retentionSet(
  config: CollectorConfig,
  org: string,
  daysText: string,
  io: CliIo,
): Promise<number> {
  if (!(await checkedOrg(org, io))) return EXIT_USAGE;
  let days: number;
  try {
    days = validateRetentionDays(daysText, '--days');
  } catch (err) {
    await write(io.stderr, `${describeError(err)}\n`);
    return EXIT_USAGE;
  }
  return withSettings(config, async (settings, session) => {
    const previousDays = settings.get(org);
    try {
      await settings.set(org, days, session.label);
    } catch (err) {
      await session
        .record({
          orgId: org,
          action: 'retention.update',
          outcome: 'error',
          metadata: { days, previousDays, error: describeError(err) },
        })
        .catch(() => undefined);
      const reason = err instanceof RetentionError ? err.message : describeError(err);
      await write(io.stderr, `cannot change the retention of ${org}: ${reason}\n`);
      return EXIT_FAILURE;
    }
    try {
      await session.record({
        orgId: org,
        action: 'retention.update',
        outcome: 'success',
        metadata: { days, previousDays },
      });
    } catch (err) {
      await write(
        io.stderr,
        `the retention of ${org} is changed, but the action could not be recorded in the admin log: ${describeError(err)}\n`,
      );
      return EXIT_FAILURE;
    }
    const effect =
      days === RETENTION_DROP
        ? 'new events of this org are dropped; rows already stored keep their retention'
        : 'every running collector applies it to the rows already stored';
    await write(
      io.stdout,
      `${org}: ${describeDays(days)} (was ${describeDays(previousDays)}); ${effect}\n`,
    );
    return 0;
  });
}

const EXAMPLES = `
Examples:
  $ connlog-collector retention get -c collector.yaml --org acme
  $ connlog-collector retention set -c collector.yaml --org acme --days 90
  $ connlog-collector retention set -c collector.yaml --org acme --days -1   # keep forever
  $ connlog-collector retention set -c collector.yaml --org acme --days 0    # store nothing
  $ connlog-collector retention list -c collector.yaml --format json

Days: 1..3650, 0 = do not store (events are acked and dropped), -1 = keep forever.
Settings live in NATS KV: every running collector uses a change within about a
second and re-stamps the org's stored rows. Changes are recorded in the admin log.
`;

const formatOption = (): Option =>
  new Option('--format <format>', 'output format').choices(['text', 'json']).default('text');

/** Register `retention get|set|list` on the collector's commander program. */
export function registerRetentionCommand(program: Command, io: CliIo = processIo()): void {
  const retention = program
    .command('retention')
    .description('read or change per-org retention (NATS KV, every collector)')
    .addHelpText('after', EXAMPLES);
  withNatsConfigFlags(retention.command('get'))
    .description("show an org's retention")
    .requiredOption('--org <org>', 'org id')
    .addOption(formatOption())
    .addHelpText('after', EXAMPLES)
    .action(async (flags: ConfigFlags & { org: string; format: Format }) => {
      await exitWith(retentionGet(configOrExit(flags), flags.org, flags.format, io));
    });
  withNatsConfigFlags(retention.command('set'))
    .description("change an org's retention, for new and stored rows")
    .requiredOption('--org <org>', 'org id')
    .requiredOption('--days <n>', '1..3650, 0 = do not store, -1 = keep forever')
    .addHelpText('after', EXAMPLES)
    .action(async (flags: ConfigFlags & { org: string; days: string }) => {
      await exitWith(retentionSet(configOrExit(flags), flags.org, flags.days, io));
    });
  withNatsConfigFlags(retention.command('list'))
    .description('list the orgs with a setting of their own, and the default')
    .addOption(formatOption())
    .addHelpText('after', EXAMPLES)
    .action(async (flags: ConfigFlags & { format: Format }) => {
      await exitWith(retentionList(configOrExit(flags), flags.format, io));
    });
}
