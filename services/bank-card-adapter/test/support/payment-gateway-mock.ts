// The payment gateway mock as the adapter meets it in production: its own
// process (services/payment-gateway-mock/dist/main.js) reached over HTTPS with
// mutual TLS and the merchant's API key, its ledger in the same test database
// under its own schema. Readiness is probed on its plain ops port.
import { fileURLToPath } from 'node:url';
import { freePort, startService, waitForHttpOk, type ServiceProcess } from '@wallet/testkit';
import { mtlsClientOptions } from '@wallet/platform/tls';
import { Agent, fetch, type RequestInit, type Response } from 'undici';
import { testGrpcSecurity, testTlsEnv, type ServiceName } from '../../../../test/support/pki.js';
import { HttpPaymentGateway } from '../../src/clients/payment-gateway/http.js';
import { PAYMENT_GATEWAY_SERVICE_NAME } from '../../src/config.js';
import { TEST_PAYMENT_GATEWAY_API_KEY } from './harness.js';

export const MOCK_MAIN = fileURLToPath(new URL('../../../payment-gateway-mock/dist/main.js', import.meta.url));

export class MockGatewayProcess {
  process: ServiceProcess | undefined;

  private constructor(
    readonly port: number,
    readonly opsPort: number,
    private readonly env: Record<string, string>,
  ) {}

  static async start(databaseUrl: string, env: Record<string, string> = {}): Promise<MockGatewayProcess> {
    const tls = await testTlsEnv('payment-gateway-mock');
    const mock = new MockGatewayProcess(await freePort(), await freePort(), {
      DATABASE_URL: databaseUrl,
      PAYMENT_GATEWAY_MOCK_API_KEY: TEST_PAYMENT_GATEWAY_API_KEY,
      ...tls,
      ...env,
    });
    await mock.restart();
    return mock;
  }

  get url(): string {
    return `https://127.0.0.1:${this.port}`;
  }

  /** Starts (again) on the same ports and waits until ready. */
  async restart(): Promise<void> {
    this.process = startService('payment-gateway-mock', MOCK_MAIN, {
      ...this.env,
      PAYMENT_GATEWAY_MOCK_HTTP_PORT: String(this.port),
      PAYMENT_GATEWAY_MOCK_OPS_PORT: String(this.opsPort),
    });
    try {
      // Generous: a loaded CI machine starts a process and migrates slowly.
      await waitForHttpOk(`http://127.0.0.1:${this.opsPort}/readyz`, 60_000);
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

/** The adapter's HTTP client of the mock, presenting the certificate of `as` (bank-card-adapter: the one allowed). */
export async function gatewayClient(url: string, timeoutMs: number, as: ServiceName = 'bank-card-adapter', apiKey = TEST_PAYMENT_GATEWAY_API_KEY): Promise<HttpPaymentGateway> {
  const provider = (await testGrpcSecurity(as)).mtls!.provider;
  return new HttpPaymentGateway(url, timeoutMs, { apiKey, tls: provider, serverServiceName: PAYMENT_GATEWAY_SERVICE_NAME });
}

const agents = new Map<ServiceName, Agent>();

/** A raw request to the mock as `as` (default: the card adapter, with the API key): ledger reads, refusal checks. */
export async function fetchMock(url: string, init: RequestInit = {}, as: ServiceName = 'bank-card-adapter'): Promise<Response> {
  let agent = agents.get(as);
  if (!agent) {
    agent = new Agent({ connect: mtlsClientOptions((await testGrpcSecurity(as)).mtls!.provider, PAYMENT_GATEWAY_SERVICE_NAME) });
    agents.set(as, agent);
  }
  const headers = { authorization: `Bearer ${TEST_PAYMENT_GATEWAY_API_KEY}`, ...(init.headers as Record<string, string> | undefined) };
  return fetch(url, { ...init, headers, dispatcher: agent });
}
