// `npm run migrate -w @wallet/bank-card-adapter`: applies the migrations and exits.
import { createLogger, loadConfig } from '@wallet/platform';
import { configSchema } from '../config.js';
import { runMigrations } from '../db/migrate.js';

const config = loadConfig(configSchema);
const logger = createLogger('bank-card-adapter', config.LOG_LEVEL);
await runMigrations(config.DATABASE_URL, logger);
