// bank-card-adapter: wiring only (config, logger, servers, shutdown).
import { ConfigError, createLogger, installShutdown, loadConfig } from '@wallet/platform';
import { configSchema, InvalidLimitsError, toConfig, type Config } from './config.js';
import { startCardAdapter } from './service.js';

let config: Config;
try {
  config = toConfig(loadConfig(configSchema));
} catch (error) {
  // A bad variable stops the service with a message that names it.
  console.error(error instanceof ConfigError || error instanceof InvalidLimitsError ? error.message : error);
  process.exit(1);
}
const logger = createLogger('bank-card-adapter', config.LOG_LEVEL);
if (config.TEST_CRASH_POINT !== 'none') logger.warn({ crashPoint: config.TEST_CRASH_POINT }, 'TEST_CRASH_POINT is set: this process will kill itself');

try {
  const adapter = await startCardAdapter(config, logger, {
    // Test hook for the crash tests: die at once, without any cleanup, like a power cut.
    crashHook: (point) => {
      if (point === config.TEST_CRASH_POINT) process.kill(process.pid, 'SIGKILL');
    },
  });
  installShutdown(logger, adapter.shutdownSteps, config.SHUTDOWN_TIMEOUT_MS);
} catch (error) {
  logger.fatal({ err: error }, 'bank-card-adapter failed to start');
  process.exit(1);
}
