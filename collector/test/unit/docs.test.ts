import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { Registry } from '@connlog/metrics';
import { CONFIG_FIELDS, envName } from '../../src/config.js';
import { REJECT_REASONS } from '../../src/ingest/decode.js';
import { SESSION_COLUMNS } from '../../src/store/schema.js';
import { createTelemetry } from '../../src/telemetry.js';

const docs = (name: string): string =>
  readFileSync(new URL(`../../../docs/${name}`, import.meta.url), 'utf8');

describe('docs stay in sync with the code', () => {
  it('collector.md lists every config key with its env variable', () => {
    const text = docs('collector.md');
    for (const key of Object.keys(CONFIG_FIELDS)) {
      expect(text, key).toContain(`\`${key}\``);
      expect(text, key).toContain(envName(key));
    }
  });

  it('collector.md lists every metric and dead-letter reason', () => {
    const metrics = new Registry();
    createTelemetry(pino({ level: 'silent' }), metrics);
    const names = [...metrics.render().matchAll(/^# TYPE (\S+)/gm)].map((m) => m[1] ?? '');
    expect(names.length).toBeGreaterThan(10);
    const text = docs('collector.md');
    for (const name of names) expect(text, name).toContain(name);
    for (const reason of REJECT_REASONS) expect(text).toContain(`| \`${reason}\``);
  });

  it('schema.md documents every column', () => {
    const text = docs('schema.md');
    for (const column of SESSION_COLUMNS) expect(text, column).toContain(`| \`${column}\``);
  });
});
