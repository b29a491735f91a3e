// `npm run migrate -w @wallet/webhook-service`: applies the migrations and exits.
import { createLogger } from '@wallet/platform';
import { loadWebhookConfig } from '../config.js';
import { migrateWebhooks } from '../db/migrations.js';

const config = loadWebhookConfig();
const logger = createLogger('webhook-service', config.LOG_LEVEL);
await migrateWebhooks(config.DATABASE_URL, logger);
