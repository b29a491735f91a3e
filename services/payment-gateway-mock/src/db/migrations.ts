import { fileURLToPath } from 'node:url';
import type { Logger } from '@wallet/platform';
import { runMigrations } from '@wallet/platform/db';

export const PAYMENT_GATEWAY_MOCK_SCHEMA = 'payment_gateway_mock';

/** migrations/ beside src/ and dist/, so the same path works from both. */
export const MIGRATIONS_DIR = fileURLToPath(new URL('../../migrations', import.meta.url));

/** Applies the mock's pending migrations (its own schema and advisory lock). */
export function migratePaymentGatewayMock(databaseUrl: string, logger: Logger): Promise<string[]> {
  return runMigrations({ databaseUrl, logger, schema: PAYMENT_GATEWAY_MOCK_SCHEMA, dir: MIGRATIONS_DIR, applicationName: 'payment-gateway-mock' });
}
