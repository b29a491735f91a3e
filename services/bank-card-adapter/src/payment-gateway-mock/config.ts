import { env } from '@wallet/platform';
import { z } from 'zod';

/** Environment of the standalone mock gateway (node dist/payment-gateway-mock/main.js [--port N]). */
export const mockGatewayConfigSchema = z.object({
  LOG_LEVEL: env.logLevel(),
  MOCK_GATEWAY_HOST: env.host('127.0.0.1'),
  MOCK_GATEWAY_PORT: env.port(9110),
  MOCK_GATEWAY_LATENCY_MS: env.int(0, 0, 60_000),
  MOCK_GATEWAY_FAILURE_RATE: z.coerce.number().min(0).max(1).default(0),
  MOCK_GATEWAY_SEED: env.int(42, 0, 2 ** 31 - 1),
});

export type MockGatewayConfig = z.infer<typeof mockGatewayConfigSchema>;

/** `--port N` on the command line wins over MOCK_GATEWAY_PORT. */
export function portFromArgs(args: readonly string[]): number | undefined {
  const index = args.indexOf('--port');
  if (index < 0) return undefined;
  const port = Number(args[index + 1]);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error('--port must be an integer 0-65535');
  return port;
}
