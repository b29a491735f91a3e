// Wiring only: configuration, logger, the service, graceful shutdown.
import { createLogger, installShutdown, loadConfig } from '@wallet/platform';
import { startAnalytics } from './app/service.js';
import { configSchema } from './config.js';

const config = loadConfig(configSchema);
const logger = createLogger('analytics-service', config.LOG_LEVEL);

try {
  const service = await startAnalytics(config, logger);
  installShutdown(logger, [{ name: 'analytics-service', run: () => service.stop() }], config.ANALYTICS_SHUTDOWN_TIMEOUT_MS);
} catch (error) {
  logger.fatal({ err: error }, 'failed to start');
  process.exit(1);
}
