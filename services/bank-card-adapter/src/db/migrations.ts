import { fileURLToPath } from 'node:url';
import type { Logger } from '@wallet/platform';
import { runMigrations } from '@wallet/platform/db';

export const CARD_ADAPTER_SCHEMA = 'card_adapter';

/** migrations/ beside src/ and dist/, so the same path works from both. */
export const MIGRATIONS_DIR = fileURLToPath(new URL('../../migrations', import.meta.url));

/** Applies the card adapter's pending migrations (its own schema and advisory lock). */
export function migrateCardAdapter(databaseUrl: string, logger: Logger): Promise<string[]> {
  return runMigrations({ databaseUrl, logger, schema: CARD_ADAPTER_SCHEMA, dir: MIGRATIONS_DIR, applicationName: 'bank-card-adapter' });
}
