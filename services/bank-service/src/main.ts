// bank-service entry point: wiring only.
import { runService } from '@wallet/platform';
import { startBankService } from './app/service.js';
import { loadBankConfig } from './config.js';

await runService({
  name: 'bank-service',
  loadConfig: () => loadBankConfig(),
  logLevel: (config) => config.LOG_LEVEL,
  shutdownTimeoutMs: (config) => config.BANK_SHUTDOWN_TIMEOUT_MS,
  start: async (config, logger) => {
    const service = await startBankService(config, logger);
    return { close: () => service.close(), info: { grpcPort: service.grpcPort, opsPort: service.opsPort } };
  },
});
