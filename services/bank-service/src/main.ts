// bank-service entry point: wiring only.
import { ConfigError, createLogger, installShutdown } from '@wallet/platform';
import { startBankService } from './app/service.js';
import { loadBankConfig, type BankConfig } from './config.js';

let config: BankConfig;
try {
  config = loadBankConfig();
} catch (error) {
  // A bad variable stops the service with a message that names it.
  console.error(error instanceof ConfigError ? error.message : error);
  process.exit(1);
}
const logger = createLogger('bank-service', config.LOG_LEVEL);

try {
  const service = await startBankService(config, logger);
  installShutdown(logger, [{ name: 'bank-service', run: () => service.close() }], config.BANK_SHUTDOWN_TIMEOUT_MS);
} catch (error) {
  logger.fatal({ err: error }, 'bank-service failed to start');
  process.exit(1);
}
