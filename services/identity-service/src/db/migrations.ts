import { fileURLToPath } from 'node:url';
import type { Logger } from '@wallet/platform';
import { runMigrations } from '@wallet/platform/db';

export const IDENTITY_SCHEMA = 'identity';

/** migrations/ beside src/ and dist/, so the same path works from both. */
export const MIGRATIONS_DIR = fileURLToPath(new URL('../../migrations', import.meta.url));

/** Applies the identity service's pending migrations (its own schema and advisory lock). */
export function migrateIdentity(databaseUrl: string, logger: Logger): Promise<string[]> {
  return runMigrations({ databaseUrl, logger, schema: IDENTITY_SCHEMA, dir: MIGRATIONS_DIR, applicationName: 'identity-service' });
}
