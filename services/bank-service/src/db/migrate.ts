import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from '@wallet/platform';
import { runner } from 'node-pg-migrate';
import { advisoryLockKey } from '../domain/hashing.js';

/** services/bank-service/migrations, from src/db (tests) and dist/db (built) alike. */
export const MIGRATIONS_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'migrations');
export const BANK_SCHEMA = 'bank';

// node-pg-migrate's default lock id is shared by every service using it; a
// bank-specific one lets services sharing a database migrate independently.
const MIGRATION_LOCK_ID = Number(advisoryLockKey('bank.migrations') >> 12n);

/**
 * Applies pending SQL migrations (schema `bank`, table bank.pgmigrations) in
 * one transaction. Replicas starting together wait for each other's lock
 * instead of failing.
 */
export async function runMigrations(options: { databaseUrl: string; logger: Logger; statementTimeoutMs?: number }): Promise<string[]> {
  const applied = await runner({
    databaseUrl: {
      connectionString: options.databaseUrl,
      connectionTimeoutMillis: 10_000,
      statement_timeout: options.statementTimeoutMs ?? 120_000,
      application_name: 'bank-service-migrate',
    },
    dir: MIGRATIONS_DIR,
    schema: BANK_SCHEMA,
    createSchema: true,
    migrationsSchema: BANK_SCHEMA,
    createMigrationsSchema: true,
    migrationsTable: 'pgmigrations',
    direction: 'up',
    checkOrder: true,
    singleTransaction: true,
    lockValue: MIGRATION_LOCK_ID,
    advisoryLockMode: 'wait',
    logger: {
      debug: (msg: string) => options.logger.debug({ migrate: true }, msg),
      info: (msg: string) => options.logger.debug({ migrate: true }, msg),
      warn: (msg: string) => options.logger.warn({ migrate: true }, msg),
      error: (msg: string) => options.logger.error({ migrate: true }, msg),
    },
  });
  const names = applied.map((m) => m.name);
  options.logger.info({ applied: names }, names.length ? 'migrations applied' : 'database schema up to date');
  return names;
}
