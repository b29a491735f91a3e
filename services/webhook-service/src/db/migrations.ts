import { fileURLToPath } from 'node:url';
import type { Logger } from '@wallet/platform';
import { runMigrations } from '@wallet/platform/db';

export const WEBHOOK_SCHEMA = 'webhooks';

/** migrations/ beside src/ and dist/, so the same path works from both. */
export const MIGRATIONS_DIR = fileURLToPath(new URL('../../migrations', import.meta.url));

/** Applies the webhook-service's pending migrations (its own schema and advisory lock). */
export function migrateWebhooks(databaseUrl: string, logger: Logger): Promise<string[]> {
  return runMigrations({ databaseUrl, logger, schema: WEBHOOK_SCHEMA, dir: MIGRATIONS_DIR, applicationName: 'webhook-service' });
}
