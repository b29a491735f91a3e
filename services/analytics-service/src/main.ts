// analytics-service: wiring only, through the platform's runService.
import { runService } from '@wallet/platform';
import { startAnalytics } from './app/service.js';
import { loadAnalyticsConfig, type AnalyticsConfig } from './config.js';

await runService<AnalyticsConfig>({
  name: 'analytics-service',
  loadConfig: () => loadAnalyticsConfig(),
  logLevel: (config) => config.LOG_LEVEL,
  shutdownTimeoutMs: (config) => config.ANALYTICS_SHUTDOWN_TIMEOUT_MS,
  start: async (config, logger) => {
    const service = await startAnalytics(config, logger);
    return { close: () => service.stop(), info: { grpcPort: service.grpcPort, opsPort: service.opsPort } };
  },
});
