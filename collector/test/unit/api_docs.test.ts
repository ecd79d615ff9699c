import { readFileSync } from 'node:fs';
import { Registry } from '@connlog/metrics';
import { describe, expect, it } from 'vitest';
import { API_ERRORS, SQL_ERRORS, SqlEndpointError } from '../../src/api/errors.js';
import type { SqlErrorName } from '../../src/api/errors.js';
import { offlineApiHandler } from '../helpers/api_handler.js';

/**
 * docs/api.md is the reference users read: it must list exactly what the code does.
 * Table cells may be padded (prettier aligns markdown tables).
 */
const doc = readFileSync(new URL('../../../docs/api.md', import.meta.url), 'utf8');

describe('docs/api.md', () => {
  it('documents every REST error code with its status, and no other', () => {
    const rows = [...doc.matchAll(/^\| `([A-Z_]+)` +\| (\d{3}) +\|/gm)].map(
      (m) => `${m[1] ?? ''} ${m[2] ?? ''}`,
    );
    const catalogue = Object.entries(API_ERRORS).map(([code, e]) => `${code} ${e.status}`);
    expect(rows.sort()).toEqual(catalogue.sort());
  });

  it('documents every error the SQL endpoint raises itself, with code, name and status', () => {
    const rows = [...doc.matchAll(/^\| (\d+) +\| `([A-Z_]+)` +\| (\d{3}) +\|/gm)].map(
      (m) => `${m[1] ?? ''} ${m[2] ?? ''} ${m[3] ?? ''}`,
    );
    const raised = new Set(
      (Object.keys(SQL_ERRORS) as SqlErrorName[]).map((kind) => {
        const err = new SqlEndpointError(kind);
        return `${err.clickhouseCode} ${err.clickhouseName} ${err.status}`;
      }),
    );
    expect(new Set(rows)).toEqual(raised);
    expect(rows).toHaveLength(raised.size);
  });

  it('lists every route in its route table', () => {
    const { routes } = offlineApiHandler();
    const documented = [...doc.matchAll(/^\| (GET|POST|PUT|DELETE) +\| `([^`]+)` +\|/gm)].map(
      (m) => `${m[1] ?? ''} ${m[2] ?? ''}`,
    );
    expect(documented.sort()).toEqual(routes.map((r) => `${r.method} ${r.path}`).sort());
  });
});

describe('docs/api.md metrics', () => {
  it('names every metric the API registers', () => {
    const metrics = new Registry();
    offlineApiHandler(metrics);
    const names = [...metrics.render().matchAll(/^# TYPE (\S+)/gm)].map((m) => m[1] ?? '');
    expect(names.length).toBeGreaterThan(0);
    for (const name of names) expect(doc).toContain(`\`${name}\``);
  });
});
