// `node dist/cli/migrate.js`: applies pending migrations to DATABASE_URL and exits.
import { ConfigError, createLogger } from '@wallet/platform';
import { loadBankSettings, type BankSettings } from '../config.js';
import { migrateBank } from '../db/migrations.js';

let config: BankSettings;
try {
  config = loadBankSettings();
} catch (error) {
  console.error(error instanceof ConfigError ? error.message : error);
  process.exit(2);
}
const logger = createLogger('bank-service-migrate', config.LOG_LEVEL);
try {
  await migrateBank({ databaseUrl: config.DATABASE_URL, logger });
} catch (error) {
  logger.fatal({ err: error }, 'migration failed');
  process.exitCode = 1;
}
