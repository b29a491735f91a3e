import { fileURLToPath } from 'node:url';
import { runner } from 'node-pg-migrate';
import type { Logger } from '@wallet/platform';

export const SCHEMA = 'card_adapter';

/** migrations/ beside src/ and dist/, so the same path works from both. */
export const MIGRATIONS_DIR = fileURLToPath(new URL('../../migrations', import.meta.url));

/** Applies pending SQL migrations; the migrations table lives in the service's own schema. */
export async function runMigrations(databaseUrl: string, logger: Logger): Promise<string[]> {
  const applied = await runner({
    databaseUrl,
    dir: MIGRATIONS_DIR,
    direction: 'up',
    schema: SCHEMA,
    createSchema: true,
    migrationsSchema: SCHEMA,
    createMigrationsSchema: true,
    migrationsTable: 'pgmigrations',
    checkOrder: true,
    singleTransaction: true,
    // Replicas starting together wait for each other instead of failing.
    advisoryLockMode: 'wait',
    log: (message: string) => logger.debug({ migration: message }, 'migrate'),
  });
  const names = applied.map((m) => m.name);
  if (names.length > 0) logger.info({ applied: names }, 'migrations applied');
  return names;
}
