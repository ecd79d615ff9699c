import { migrations, type SchemaOptions } from './schema.js';

/**
 * The whole schema as one DDL script, for DBAs who review or apply it by hand. The
 * collector applies the same migrations itself at startup; this is a rendering of them.
 */
export function renderDdl(options: SchemaOptions): string {
  const target = options.cluster === undefined ? 'a single node' : `cluster ${options.cluster}`;
  const lines = [
    `-- connlog ClickHouse schema for ${target} (database ${options.database}).`,
    '-- Generated from collector/src/store/schema.ts (`connlog-collector schema`); the',
    '-- collector applies these migrations itself, idempotently, at startup.',
    '',
  ];
  for (const migration of migrations(options)) {
    lines.push(`-- migration ${migration.version}: ${migration.name}`);
    for (const statement of migration.statements) lines.push(`${statement.trim()};`, '');
  }
  return lines.join('\n');
}
