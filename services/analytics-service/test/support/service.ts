// Starting the analytics-service for a test: in-process (startAnalytics, the
// same code main.ts runs) or as a real process (dist/main.js), plus a gRPC client.
// Both sides use the run's test PKI: the service its own certificate, the client
// the gateway's (the only caller analytics allows), as in production.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AnalyticsServiceClient, type GetAccountSummaryRequest, type GetAccountSummaryResponse, type GetOperationsRequest, type GetOperationsResponse } from '@wallet/contracts/analytics';
import { callUnary, createGrpcClient, createLogger, type GrpcTransport, type Logger } from '@wallet/platform';
import { loadAnalyticsConfig, type AnalyticsConfig } from '../../src/config.js';
import { startAnalytics, type RunningAnalytics } from '../../src/app/service.js';
import { testClientTransport, testTlsEnv } from '../../../../test/support/pki.js';

/** The analytics-service's TLS_* files (its certificate from the run's test PKI). */
const analyticsTlsEnv = await testTlsEnv('analytics-service');
/** How the gateway reaches analytics (its certificate, the server's name checked). */
const gatewayTransport = await testClientTransport('analytics-service', 'api-gateway');

export const serviceMain = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'dist', 'main.js');

/** A fresh chDB folder: chDB binds one data directory per process, so each test file gets its own. */
export function tempChdbPath(prefix: string): string {
  return join(mkdtempSync(join(tmpdir(), `analytics-${prefix}-`)), 'chdb');
}

/** Deletes a folder made by tempChdbPath, once nothing uses it any more. */
export function removeChdbPath(path: string): void {
  rmSync(dirname(path), { recursive: true, force: true });
}

/** Environment for a test instance: unique topics/group, free ports, quick batches and failure detection. */
export function testEnv(overrides: Record<string, string>): Record<string, string> {
  return {
    KAFKA_BROKERS: process.env.KAFKA_BROKERS ?? '',
    ...analyticsTlsEnv,
    ANALYTICS_GRPC_PORT: '0',
    ANALYTICS_OPS_PORT: '0',
    ANALYTICS_BATCH_WAIT_MS_MAX: '100',
    ANALYTICS_KAFKA_FETCH_WAIT_MS_MAX: '100',
    ANALYTICS_KAFKA_SESSION_TIMEOUT_MS: '6000',
    ANALYTICS_KAFKA_HEARTBEAT_INTERVAL_MS: '500',
    ANALYTICS_LAG_INTERVAL_MS: '250',
    ANALYTICS_RETRY_DELAY_MS_MAX: '500',
    // No bank in most analytics tests; the cross-check tests turn it on with a bank.
    ANALYTICS_CROSS_CHECK_ENABLED: 'false',
    ...overrides,
  };
}

/** Starts the service in this process; `logger` replaces the silent default (tests that read log lines). */
export async function startInProcess(env: Record<string, string>, logger: Logger = createLogger('analytics-service-test', process.env.TEST_SERVICE_LOG_LEVEL ?? 'silent')): Promise<RunningAnalytics & { config: AnalyticsConfig }> {
  const config = loadAnalyticsConfig(testEnv(env));
  const running = await startAnalytics(config, logger);
  return { ...running, config };
}

/** A client of the service on `port`, as the gateway unless another transport is given (mtls-callers.test.ts). */
export function analyticsClient(port: number, transport: GrpcTransport = gatewayTransport) {
  const client = createGrpcClient(AnalyticsServiceClient, `127.0.0.1:${port}`, transport);
  return {
    getOperations: (request: Partial<GetOperationsRequest>) =>
      callUnary<GetOperationsRequest, GetOperationsResponse>(
        client,
        client.getOperations,
        { accountId: '', pageSize: 0, pageToken: '', types: [], fromTime: undefined, toTime: undefined, ...request },
        { timeoutMs: 10_000 },
      ),
    getAccountSummary: (request: Partial<GetAccountSummaryRequest>) =>
      callUnary<GetAccountSummaryRequest, GetAccountSummaryResponse>(
        client,
        client.getAccountSummary,
        { accountId: '', fromTime: undefined, toTime: undefined, granularity: 0, ...request },
        { timeoutMs: 10_000 },
      ),
    close: () => client.close(),
  };
}

export type AnalyticsTestClient = ReturnType<typeof analyticsClient>;

/** Every page of an account's history, following next_page_token (bounded). */
export async function readAllPages(client: AnalyticsTestClient, request: Partial<GetOperationsRequest>, pagesMax = 1000): Promise<GetOperationsResponse['operations']> {
  const all: GetOperationsResponse['operations'] = [];
  let pageToken = '';
  for (let page = 0; page < pagesMax; page += 1) {
    const response = await client.getOperations({ ...request, pageToken });
    all.push(...response.operations);
    if (!response.nextPageToken) return all;
    pageToken = response.nextPageToken;
  }
  throw new Error(`more than ${pagesMax} pages`);
}

/** Reads a metric's value (summed over label sets) from a /metrics text. */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const labelText = match[2] ?? '';
    if (Object.entries(labels).every(([k, v]) => labelText.includes(`${k}="${v}"`))) sum += Number(match[3]);
  }
  return sum;
}
