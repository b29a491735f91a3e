// bank-card-adapter: wiring only, through the platform's runService.
import { runService } from '@wallet/platform';
import { loadCardAdapterConfig, type Config } from './config.js';
import { startCardAdapter } from './service.js';

await runService<Config>({
  name: 'bank-card-adapter',
  loadConfig: () => loadCardAdapterConfig(),
  logLevel: (config) => config.LOG_LEVEL,
  shutdownTimeoutMs: (config) => config.CARD_ADAPTER_SHUTDOWN_TIMEOUT_MS,
  start: async (config, logger) => {
    const crashPoint = config.WALLET_TEST_CRASH_POINT;
    if (crashPoint) logger.warn({ crashPoint }, 'WALLET_TEST_CRASH_POINT is set: this process will kill itself');
    const adapter = await startCardAdapter(config, logger, {
      // Test hook for the crash tests: die at once, without any cleanup, like a power cut.
      ...(crashPoint ? { crashHook: (point: string) => void (point === crashPoint && process.kill(process.pid, 'SIGKILL')) } : {}),
    });
    return { shutdownSteps: adapter.shutdownSteps, info: adapter.info };
  },
});
