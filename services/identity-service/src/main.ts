// identity-service: wiring only, through the platform's runService.
import { runService } from '@wallet/platform';
import { loadIdentityConfig, type Config } from './config.js';
import { IDENTITY_REDACTED_PATHS, startIdentityService } from './service.js';

await runService<Config>({
  name: 'identity-service',
  loadConfig: () => loadIdentityConfig(),
  logLevel: (config) => config.LOG_LEVEL,
  loggerOptions: { redact: { paths: IDENTITY_REDACTED_PATHS, censor: '[redacted]' } },
  shutdownTimeoutMs: (config) => config.IDENTITY_SHUTDOWN_TIMEOUT_MS,
  start: async (config, logger) => {
    const service = await startIdentityService(config, logger);
    return { shutdownSteps: service.shutdownSteps, info: service.info };
  },
});
