import { createHash } from 'node:crypto';
import { runner } from 'node-pg-migrate';
import type { Logger } from '../logger.js';

export interface MigrateOptions {
  databaseUrl: string;
  /** The service's own schema; its migrations table lives there too. */
  schema: string;
  /** Folder of the service's SQL migrations. */
  dir: string;
  logger: Logger;
  applicationName: string;
  statementTimeoutMs?: number;
}

/**
 * The advisory lock id for one schema's migrations. node-pg-migrate's default
 * id is shared by every service; a per-schema id lets services sharing one
 * database migrate independently while replicas of one service queue up.
 */
export function migrationLockId(schema: string): number {
  // 31 bits: node-pg-migrate passes it as a PostgreSQL integer.
  return createHash('sha256').update(`migrations:${schema}`).digest().readUInt32BE(0) >>> 1;
}

/**
 * Applies pending SQL migrations in one transaction. Replicas starting together
 * wait for each other's lock instead of failing.
 */
export async function runMigrations(options: MigrateOptions): Promise<string[]> {
  const { logger } = options;
  const applied = await runner({
    databaseUrl: {
      connectionString: options.databaseUrl,
      connectionTimeoutMillis: 10_000,
      statement_timeout: options.statementTimeoutMs ?? 120_000,
      application_name: `${options.applicationName}-migrate`,
    },
    dir: options.dir,
    schema: options.schema,
    createSchema: true,
    migrationsSchema: options.schema,
    createMigrationsSchema: true,
    migrationsTable: 'pgmigrations',
    direction: 'up',
    checkOrder: true,
    singleTransaction: true,
    lockValue: migrationLockId(options.schema),
    advisoryLockMode: 'wait',
    logger: {
      debug: (msg: string) => logger.debug({ migrate: true }, msg),
      info: (msg: string) => logger.debug({ migrate: true }, msg),
      warn: (msg: string) => logger.warn({ migrate: true }, msg),
      error: (msg: string) => logger.error({ migrate: true }, msg),
    },
  });
  const names = applied.map((m) => m.name);
  logger.info({ schema: options.schema, applied: names }, names.length ? 'migrations applied' : 'database schema up to date');
  return names;
}
