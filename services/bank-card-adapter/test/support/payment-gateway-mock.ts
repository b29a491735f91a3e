// The payment gateway mock as the adapter meets it in production: its own
// process (services/payment-gateway-mock/dist/main.js) reached over HTTP,
// its ledger in the same test database under its own schema.
import { fileURLToPath } from 'node:url';
import { freePort, startService, waitForHttpOk, type ServiceProcess } from '@wallet/testkit';

export const MOCK_MAIN = fileURLToPath(new URL('../../../payment-gateway-mock/dist/main.js', import.meta.url));

export class MockGatewayProcess {
  process: ServiceProcess | undefined;

  private constructor(
    readonly port: number,
    private readonly env: Record<string, string>,
  ) {}

  static async start(databaseUrl: string, env: Record<string, string> = {}): Promise<MockGatewayProcess> {
    const mock = new MockGatewayProcess(await freePort(), { DATABASE_URL: databaseUrl, ...env });
    await mock.restart();
    return mock;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Starts (again) on the same port and waits until ready. */
  async restart(): Promise<void> {
    this.process = startService('payment-gateway-mock', MOCK_MAIN, { ...this.env, PAYMENT_GATEWAY_MOCK_HTTP_PORT: String(this.port) });
    try {
      // Generous: a loaded CI machine starts a process and migrates slowly.
      await waitForHttpOk(`${this.url}/readyz`, 60_000);
    } catch (error) {
      throw new Error(`payment-gateway-mock did not become ready: ${(error as Error).message}\n${this.process.logs.slice(-20).join('\n')}`);
    }
  }

  async kill(): Promise<void> {
    await this.process?.kill();
  }

  async stop(): Promise<void> {
    await this.process?.stop();
  }
}
