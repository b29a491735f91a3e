// webhook-service: wiring only, through the platform's runService.
import { runService } from '@wallet/platform';
import { loadWebhookConfig, type Config } from './config.js';
import { startWebhookService } from './service.js';

await runService<Config>({
  name: 'webhook-service',
  loadConfig: () => loadWebhookConfig(),
  logLevel: (config) => config.LOG_LEVEL,
  shutdownTimeoutMs: (config) => config.WEBHOOK_SHUTDOWN_TIMEOUT_MS,
  start: async (config, logger) => {
    const service = await startWebhookService(config, logger);
    return { shutdownSteps: service.shutdownSteps, info: service.info };
  },
});
