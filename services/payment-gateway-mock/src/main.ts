// payment-gateway-mock: wiring only, through the platform's runService.
import { runService } from '@wallet/platform';
import { loadMockConfig, type Config } from './config.js';
import { startPaymentGatewayMock } from './service.js';

await runService<Config>({
  name: 'payment-gateway-mock',
  loadConfig: () => loadMockConfig(),
  logLevel: (config) => config.LOG_LEVEL,
  shutdownTimeoutMs: (config) => config.PAYMENT_GATEWAY_MOCK_SHUTDOWN_TIMEOUT_MS,
  start: async (config, logger) => {
    const mock = await startPaymentGatewayMock(config, logger);
    return { shutdownSteps: mock.shutdownSteps, info: mock.info };
  },
});
