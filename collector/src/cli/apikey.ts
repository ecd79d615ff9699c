/**
 * `connlog-collector apikey create|list|revoke`: manage API keys directly in NATS KV
 * with the collector's config (no running collector, no key needed: this is how the
 * first key is made). Every create and revoke, and every failed attempt at one, is
 * recorded in the admin log with actor type `cli` through the admin relay
 * (control/relay.ts): the record is in JetStream before the command reports success,
 * and a running collector writes it to `admin_actions`.
 */
import { Option, type Command } from 'commander';
import {
  ALL_ORGS,
  AuthError,
  ROLES,
  createApiKeys,
  type ApiKeys,
  type Role,
} from '../auth/index.js';
import type { CollectorConfig } from '../config.js';
import { withCliSession, type CliSession } from '../control/cli_session.js';
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

export interface ApikeyCreateInput {
  role: string;
  /** One org or `*`. @default "*" */
  org?: string;
  name?: string;
}

function withKeys<T>(
  config: CollectorConfig,
  fn: (keys: ApiKeys, session: CliSession) => Promise<T>,
): Promise<T> {
  return withCliSession(
    config,
    (session) =>
      createApiKeys({
        nc: session.nc,
        log: session.log,
        bucket: config.auth.bucket,
        replicas: config.nats.stream.replicas,
      }),
    fn,
  );
}

const scopeOrg = (org: string): string => (org === ALL_ORGS ? '' : org);

/** Create a key; the key itself is the last line of stdout. Resolves to the exit code. */
export async function apikeyCreate(
  config: CollectorConfig,
  input: ApikeyCreateInput,
  io: CliIo,
): Promise<number> {
  const role = input.role as Role;
  if (!ROLES.includes(role)) {
    await write(io.stderr, `--role must be one of ${ROLES.join(', ')}, got "${input.role}"\n`);
    return EXIT_USAGE;
  }
  const org = input.org ?? ALL_ORGS;
  const name = input.name ?? `${role} key (cli ${new Date().toISOString().slice(0, 10)})`;
  return withKeys(config, async (keys, session) => {
    let created: Awaited<ReturnType<ApiKeys['create']>>;
    try {
      created = await keys.create({ role, org, name, createdBy: session.label });
    } catch (err) {
      if (err instanceof AuthError && err.code === 'APIKEY_INVALID') {
        await write(io.stderr, `${err.message}\n`);
        return EXIT_USAGE;
      }
      await session
        .record({
          orgId: scopeOrg(org),
          action: 'apikey.create',
          outcome: 'error',
          metadata: { role, scope: org, name, error: describeError(err) },
        })
        .catch(() => undefined);
      await write(io.stderr, `cannot create the API key: ${describeError(err)}\n`);
      return EXIT_FAILURE;
    }
    const { id, key } = created;
    try {
      await session.record({
        orgId: scopeOrg(org),
        action: 'apikey.create',
        outcome: 'success',
        metadata: { keyId: id, role, scope: org, name },
      });
    } catch (err) {
      // An unrecorded key must not exist: take it back.
      await keys.revoke(id).catch(() => undefined);
      await write(
        io.stderr,
        `cannot record the action in the admin log (${describeError(err)}); the key ${id} was revoked again\n`,
      );
      return EXIT_FAILURE;
    }
    await write(
      io.stdout,
      `created API key ${id}\n` +
        `  role: ${role}\n` +
        `  org:  ${org === ALL_ORGS ? '* (every org)' : org}\n` +
        `  name: ${name}\n` +
        'The key follows on the last line. It is shown only this once: store it now.\n' +
        `${key}\n`,
    );
    return 0;
  });
}

export async function apikeyList(
  config: CollectorConfig,
  format: 'table' | 'json',
  io: CliIo,
): Promise<number> {
  return withKeys(config, async (keys) => {
    const list = keys.list();
    if (format === 'json') {
      await write(io.stdout, `${JSON.stringify(list, null, 2)}\n`);
      return 0;
    }
    await write(
      io.stdout,
      formatTable(
        ['ID', 'ROLE', 'ORG', 'CREATED', 'CREATED BY', 'NAME'],
        list.map((k) => [k.id, k.role, k.org, k.createdAt, k.createdBy, k.name]),
      ),
    );
    return 0;
  });
}

export async function apikeyRevoke(
  config: CollectorConfig,
  id: string,
  io: CliIo,
): Promise<number> {
  return withKeys(config, async (keys, session) => {
    const known = keys.get(id);
    try {
      await keys.revoke(id);
    } catch (err) {
      if (err instanceof AuthError && err.code === 'APIKEY_INVALID') {
        await write(io.stderr, `${err.message}\n`);
        return EXIT_USAGE;
      }
      await session
        .record({
          orgId: known ? scopeOrg(known.org) : '',
          action: 'apikey.revoke',
          outcome: 'error',
          metadata: { keyId: id, error: describeError(err) },
        })
        .catch(() => undefined);
      await write(io.stderr, `cannot revoke API key ${id}: ${describeError(err)}\n`);
      return EXIT_FAILURE;
    }
    try {
      await session.record({
        orgId: known ? scopeOrg(known.org) : '',
        action: 'apikey.revoke',
        outcome: 'success',
        metadata: { keyId: id, role: known?.role, scope: known?.org, name: known?.name },
      });
    } catch (err) {
      await write(
        io.stderr,
        `API key ${id} is revoked, but the action could not be recorded in the admin log: ${describeError(err)}\n`,
      );
      return EXIT_FAILURE;
    }
    await write(io.stdout, `revoked API key ${id}; every collector refuses it within a second\n`);
    return 0;
  });
}

const CREATE_EXAMPLES = `
Examples:
  $ connlog-collector apikey create -c collector.yaml --role admin --name bootstrap
  $ connlog-collector apikey create -c collector.yaml --role auditor --org acme --name "audit 2030"
  $ KEY=$(connlog-collector apikey create -c collector.yaml --role admin | tail -n 1)

The key is printed once, as the last line of the output. Without --org the key
reaches every org (*). The creation is recorded in the admin log (actor type cli).
`;

const LIST_EXAMPLES = `
Examples:
  $ connlog-collector apikey list -c collector.yaml
  $ connlog-collector apikey list -c collector.yaml --format json
`;

const REVOKE_EXAMPLES = `
Examples:
  $ connlog-collector apikey revoke -c collector.yaml 3f9c1a7be2d04c55

Every collector refuses the key within about a second. Recorded in the admin log.
`;

/** Register `apikey create|list|revoke` on the collector's commander program. */
export function registerApikeyCommand(program: Command, io: CliIo = processIo()): void {
  const apikey = program
    .command('apikey')
    .description('create, list and revoke API keys (in NATS KV, for every collector)');
  withNatsConfigFlags(apikey.command('create'))
    .description('create an API key; prints it once, as the last line')
    .addOption(
      new Option('--role <role>', 'what the key may do').choices([...ROLES]).makeOptionMandatory(),
    )
    .option('--org <org>', 'the one org the key reaches; * = every org', ALL_ORGS)
    .option('--name <name>', 'what the key is for (shown in lists and the admin log)')
    .addHelpText('after', CREATE_EXAMPLES)
    .action(async (flags: ConfigFlags & { role: string; org: string; name?: string }) => {
      const config = configOrExit(flags);
      await exitWith(
        apikeyCreate(
          config,
          {
            role: flags.role,
            org: flags.org,
            ...(flags.name !== undefined ? { name: flags.name } : {}),
          },
          io,
        ),
      );
    });
  withNatsConfigFlags(apikey.command('list'))
    .description('list the API keys (ids, roles, orgs, names; never secrets)')
    .addOption(
      new Option('--format <format>', 'output format').choices(['table', 'json']).default('table'),
    )
    .addHelpText('after', LIST_EXAMPLES)
    .action(async (flags: ConfigFlags & { format: 'table' | 'json' }) => {
      await exitWith(apikeyList(configOrExit(flags), flags.format, io));
    });
  withNatsConfigFlags(apikey.command('revoke'))
    .description('revoke an API key on every collector')
    .argument('<id>', 'the key id (16 hex digits, as `apikey list` shows)')
    .addHelpText('after', REVOKE_EXAMPLES)
    .action(async (id: string, flags: ConfigFlags) => {
      await exitWith(apikeyRevoke(configOrExit(flags), id, io));
    });
}
