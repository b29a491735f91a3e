// `npm run migrate -w @wallet/bank-card-adapter`: applies the migrations and exits.
import { createLogger, loadConfig } from '@wallet/platform';
import { configSchema } from '../config.js';
import { migrateCardAdapter } from '../db/migrations.js';

const config = loadConfig(configSchema);
const logger = createLogger('bank-card-adapter', config.LOG_LEVEL);
await migrateCardAdapter(config.DATABASE_URL, logger);
