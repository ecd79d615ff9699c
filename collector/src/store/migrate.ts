import type { Logger } from 'pino';
import { CollectorError } from '../errors.js';
import { bootstrapStatements, migrations, type SchemaOptions } from './schema.js';

/** The two things migrations need from an engine. */
export interface MigrationEngine {
  /** Run DDL or an INSERT with `{name:Type}` parameters. */
  exec(sql: string, params?: Record<string, unknown>): Promise<void>;
  /** Run a SELECT (no FORMAT clause) and return its rows. */
  query(sql: string): Promise<Record<string, unknown>[]>;
}

/**
 * Bring the schema up to date: create the database and the migrations ledger, then
 * apply every migration not recorded yet, in order. Statements are idempotent, so a
 * crash between a migration and its ledger row only means it runs again.
 */
export async function runMigrations(
  options: SchemaOptions & { log: Logger },
  engine: MigrationEngine,
): Promise<void> {
  const { log, database } = options;
  let step = 'bootstrap';
  try {
    for (const sql of bootstrapStatements(options)) await engine.exec(sql);
    const applied = new Set(
      (await engine.query(`SELECT version FROM ${database}.schema_migrations FINAL`)).map((row) =>
        Number(row.version),
      ),
    );
    for (const migration of migrations(options)) {
      if (applied.has(migration.version)) continue;
      step = `migration ${migration.version} (${migration.name})`;
      for (const sql of migration.statements) await engine.exec(sql);
      await engine.exec(
        `INSERT INTO ${database}.schema_migrations (version, name) VALUES ({version:UInt32}, {name:String})`,
        { version: migration.version, name: migration.name },
      );
      log.info({ version: migration.version, name: migration.name }, 'schema migration applied');
    }
  } catch (err) {
    if (err instanceof CollectorError) throw err;
    const reason = err instanceof Error ? err.message.split('\n')[0] : String(err);
    throw new CollectorError('STORE_MIGRATE', `schema ${step} failed: ${reason ?? ''}`, {
      cause: err,
    });
  }
}
