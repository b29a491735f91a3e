import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from '@wallet/platform';
import { runMigrations } from '@wallet/platform/db';

/** services/bank-service/migrations, from src/db (tests) and dist/db (built) alike. */
export const MIGRATIONS_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'migrations');
export const BANK_SCHEMA = 'bank';

/** Applies the bank's pending migrations (schema `bank`, its own advisory lock). */
export function migrateBank(options: { databaseUrl: string; logger: Logger; statementTimeoutMs?: number }): Promise<string[]> {
  return runMigrations({ ...options, schema: BANK_SCHEMA, dir: MIGRATIONS_DIR, applicationName: 'bank-service' });
}
