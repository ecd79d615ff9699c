import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { CLOSE_REASON_NAMES } from '@connlog/proto';
import { describe, expect, it } from 'vitest';
import { leafConfigKeys } from '../../src/config/keys.js';
import { ENV_VARS } from '../../src/config/load.js';
import { IdentityTelemetry } from '../../src/identity/telemetry.js';
import { silentTelemetry } from './helpers.js';

// The operator guide is the config and metrics reference: keep it complete.
const docs = readFileSync(
  fileURLToPath(new URL('../../../docs/agent.md', import.meta.url)),
  'utf8',
);

describe('docs/agent.md', () => {
  it.each(leafConfigKeys())('documents config key %s', (key) => {
    expect(docs).toContain(`\`${key}\``);
  });

  it.each(Object.keys(ENV_VARS))('documents env var %s', (name) => {
    expect(docs).toContain(`\`${name}\``);
  });

  it('documents every metric', () => {
    const { log, registry } = silentTelemetry();
    new IdentityTelemetry(log, registry);
    const names = [...registry.render().matchAll(/^# TYPE (\S+) /gm)].map(
      (match) => match[1] ?? '',
    );
    expect(names).toContain('connlog_agent_peer_map_entries');
    expect(names.length).toBeGreaterThan(10);
    for (const name of names) expect(docs, name).toContain(`\`${name}\``);
  });

  it.each(CLOSE_REASON_NAMES)('documents close reason %s', (reason) => {
    expect(docs).toContain(`| \`${reason}\``);
  });
});
