// The mock payment gateway as its own process: wiring only.
//   node dist/payment-gateway-mock/main.js [--port N]
import { ConfigError, createLogger, installShutdown, loadConfig } from '@wallet/platform';
import { mockGatewayConfigSchema, portFromArgs, type MockGatewayConfig } from './config.js';
import { MemoryMockGatewayStore, MockPaymentGatewayEngine } from './engine.js';
import { startMockGatewayServer } from './server.js';

let config: MockGatewayConfig;
let port: number;
try {
  config = loadConfig(mockGatewayConfigSchema);
  port = portFromArgs(process.argv.slice(2)) ?? config.MOCK_GATEWAY_PORT;
} catch (error) {
  console.error(error instanceof ConfigError ? error.message : String((error as Error)?.message ?? error));
  process.exit(1);
}
const logger = createLogger('payment-gateway-mock', config.LOG_LEVEL);
// The ledger lives in this process's memory: it outlives adapter crashes, not its own.
const engine = new MockPaymentGatewayEngine(new MemoryMockGatewayStore(), {
  latencyMs: config.MOCK_GATEWAY_LATENCY_MS,
  failureRate: config.MOCK_GATEWAY_FAILURE_RATE,
  seed: config.MOCK_GATEWAY_SEED,
});
const server = await startMockGatewayServer({ engine, host: config.MOCK_GATEWAY_HOST, port, logger });
logger.info({ httpPort: server.port, latencyMs: config.MOCK_GATEWAY_LATENCY_MS, failureRate: config.MOCK_GATEWAY_FAILURE_RATE }, 'listening');
installShutdown(logger, [{ name: 'http', run: () => server.close() }]);
