// A tiny service run through runService, driven by FIXTURE_* variables, for run-service.test.ts.
import { env, loadConfig, runService } from '../../dist/index.js';
import { withSpan } from '../../dist/tracing/index.js';
import { z } from 'zod';

const schema = z.object({
  LOG_LEVEL: env.logLevel(),
  FIXTURE_PORT: env.port(0),
  FIXTURE_START: z.enum(['ok', 'fail']).default('ok'),
  FIXTURE_CLOSE_MS: env.int(0, 0, 60_000),
  FIXTURE_SHUTDOWN_TIMEOUT_MS: env.int(5_000, 100, 60_000),
  WALLET_TEST_FIXTURE_HOOK: env.testFlag(),
});

await runService({
  name: 'fixture-service',
  loadConfig: () => loadConfig(schema),
  logLevel: (config) => config.LOG_LEVEL,
  shutdownTimeoutMs: (config) => config.FIXTURE_SHUTDOWN_TIMEOUT_MS,
  start: async (config, logger) => {
    if (config.FIXTURE_START === 'fail') throw new Error('port already in use');
    // One span (and a log line inside it) so tests see the trace mixin and the flush at shutdown.
    await withSpan('fixture.start', {}, () => logger.info('starting'));
    // Something that keeps the event loop alive, like a server would.
    const keepAlive = setInterval(() => {}, 60_000);
    return {
      info: { port: config.FIXTURE_PORT },
      close: async () => {
        logger.info('closing');
        await new Promise((resolve) => setTimeout(resolve, config.FIXTURE_CLOSE_MS));
        clearInterval(keepAlive);
      },
    };
  },
});
