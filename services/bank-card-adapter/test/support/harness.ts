// Helpers shared by the adapter's integration tests: a config for tests,
// an adapter started in-process, a gRPC client, and journal/ledger queries.
import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import {
  BankCardAdapterServiceClient,
  type GetTopUpRequest,
  type GetTopUpResponse,
  type ProcessCardTopUpRequest,
  type ProcessCardTopUpResponse,
} from '@wallet/contracts/card-adapter';
import { callUnary, createGrpcClient, parseGrpcError, REDACTED_PATHS, type Logger, type ParsedGrpcError } from '@wallet/platform';
import type pg from 'pg';
import { pino } from 'pino';
import { testClientTransport, testTlsEnv } from '../../../../test/support/pki.js';
import { loadCardAdapterConfig, type Config } from '../../src/config.js';
import { startCardAdapter, type CardAdapterOverrides, type RunningCardAdapter } from '../../src/service.js';
import { authEnv, bearer } from './auth.js';

/** The merchant key the test mock expects (PAYMENT_GATEWAY_MOCK_API_KEY) and the adapter sends. */
export const TEST_PAYMENT_GATEWAY_API_KEY = 'test-payment-gateway-api-key-0123';

/** Short deadlines and delays, so failure paths run in well under a second. */
export const TEST_ENV: Record<string, string> = {
  CARD_ADAPTER_GRPC_PORT: '0',
  CARD_ADAPTER_OPS_PORT: '0',
  LOG_LEVEL: 'debug',
  // Deadlines short enough for quick failure paths, long enough for a loaded test machine
  // (each new connection is a TLS handshake on both sides).
  CARD_ADAPTER_PAYMENT_GATEWAY_TIMEOUT_MS: '2000',
  CARD_ADAPTER_BANK_TIMEOUT_MS: '2000',
  CARD_ADAPTER_CHARGE_ATTEMPTS_MAX: '2',
  CARD_ADAPTER_CHARGE_RESOLUTION_GRACE_MS: '200',
  CARD_ADAPTER_DEPOSIT_ATTEMPTS_MAX: '3',
  CARD_ADAPTER_DEPOSIT_RETRY_MS_MAX: '5000',
  CARD_ADAPTER_REFUND_ATTEMPTS_MAX: '3',
  CARD_ADAPTER_RETRY_DELAY_MS_MIN: '10',
  CARD_ADAPTER_RETRY_DELAY_MS_MAX: '50',
  CARD_ADAPTER_LEASE_MARGIN_MS: '200',
  CARD_ADAPTER_RECOVERY_ENABLED: 'false',
  CARD_ADAPTER_RECOVERY_INTERVAL_MS: '100',
  CARD_ADAPTER_RECOVERY_DELAY_MS_MIN: '50',
  CARD_ADAPTER_RECOVERY_DELAY_MS_MAX: '500',
  // Breakers out of the way of tests that pile up failures on purpose; breakers.test.ts sets its own thresholds.
  CARD_ADAPTER_BREAKER_CALLS_MIN: '100000',
  CARD_ADAPTER_CARD_FINGERPRINT_SECRET: 'test-card-fingerprint-secret',
  CARD_ADAPTER_PAYMENT_GATEWAY_API_KEY: TEST_PAYMENT_GATEWAY_API_KEY,
};

/** The adapter's environment for tests: TEST_ENV, this service's certificate (TLS_*), then `env`. */
export async function testEnv(env: Record<string, string>): Promise<Record<string, string>> {
  return { ...TEST_ENV, ...(await testTlsEnv('bank-card-adapter')), ...env };
}

export async function testConfig(env: Record<string, string>): Promise<Config> {
  return loadCardAdapterConfig(await testEnv(env));
}

/** A logger whose every line is kept, so tests can assert what never gets logged. */
export function capturingLogger(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      lines.push(chunk.toString());
      callback();
    },
  });
  const logger = pino({ level: 'debug', base: { service: 'bank-card-adapter' }, redact: { paths: REDACTED_PATHS, censor: '[redacted]' } }, stream);
  return { logger, lines };
}

export interface TestAdapter {
  adapter: RunningCardAdapter;
  client: BankCardAdapterServiceClient;
  lines: string[];
  /** A top-up as alice (a customer who owns ACCOUNT) unless `authorization` says otherwise (null: none sent). */
  topUp(
    request: Omit<Partial<ProcessCardTopUpRequest>, 'card'> & { card?: Partial<NonNullable<ProcessCardTopUpRequest['card']>> },
    authorization?: string | null,
  ): Promise<TopUpCall>;
  getTopUp(request: Partial<GetTopUpRequest>, authorization?: string | null): Promise<GetTopUpCall>;
  stop(): Promise<void>;
}

export type TopUpCall = { ok: ProcessCardTopUpResponse; err?: undefined } | { ok?: undefined; err: ParsedGrpcError };
export type GetTopUpCall = { ok: GetTopUpResponse; err?: undefined } | { ok?: undefined; err: ParsedGrpcError };

export const ACCOUNT = '123e4567-e89b-12d3-a456-426614174000';

/** A valid request; tests override what they exercise. */
export function request(overrides: Partial<ProcessCardTopUpRequest> = {}, card: Partial<NonNullable<ProcessCardTopUpRequest['card']>> = {}): ProcessCardTopUpRequest {
  return {
    accountId: ACCOUNT,
    amount: { amountMinor: 2_500n, currencyCode: 'USD' },
    idempotencyKey: randomUUID(),
    ...overrides,
    card: { number: '4242424242424242', expiryMonth: 12, expiryYear: 2035, cvc: '123', holderName: 'Ada Lovelace', ...card },
  };
}

/** Metadata of a call: alice's bearer by default, the given one, or none (null). */
async function callHeaders(authorization: string | null | undefined): Promise<Record<string, string>> {
  const headers: Record<string, string> = { 'x-request-id': randomUUID() };
  const value = authorization === undefined ? await bearer() : authorization;
  if (value !== null) headers.authorization = value;
  return headers;
}

export async function callTopUp(client: BankCardAdapterServiceClient, req: ProcessCardTopUpRequest, timeoutMs = 30_000, authorization?: string | null): Promise<TopUpCall> {
  const headers = await callHeaders(authorization);
  try {
    const ok = await callUnary(client, client.processCardTopUp, req, { timeoutMs, headers });
    return { ok };
  } catch (error) {
    return { err: parseGrpcError(error) };
  }
}

export async function callGetTopUp(client: BankCardAdapterServiceClient, req: Partial<GetTopUpRequest>, authorization?: string | null): Promise<GetTopUpCall> {
  const headers = await callHeaders(authorization);
  try {
    const ok = await callUnary(client, client.getTopUp, { topUpId: '', accountId: '', idempotencyKey: '', ...req }, { timeoutMs: 10_000, headers });
    return { ok };
  } catch (error) {
    return { err: parseGrpcError(error) };
  }
}

export async function startTestAdapter(env: Record<string, string>, overrides: CardAdapterOverrides = {}): Promise<TestAdapter> {
  const { logger, lines } = capturingLogger();
  const adapter = await startCardAdapter(await testConfig({ ...(await authEnv()), ...env }), logger, overrides);
  // As the gateway: the only caller the adapter's table admits.
  const client = createGrpcClient(BankCardAdapterServiceClient, `127.0.0.1:${adapter.grpc.port}`, await testClientTransport('bank-card-adapter', 'api-gateway'));
  return {
    adapter,
    client,
    lines,
    topUp: (partial, authorization) => {
      const { card, ...rest } = partial;
      return callTopUp(client, request(rest, card ?? {}), 30_000, authorization);
    },
    getTopUp: (req, authorization) => callGetTopUp(client, req, authorization),
    stop: async () => {
      client.close();
      await adapter.stop();
    },
  };
}

// ------------------------------------------------------------ journal and ledgers

export interface JournalRow {
  id: string;
  state: string;
  charge_id: string | null;
  deposit_id: string | null;
  refund_id: string | null;
  deposit_attempts: number;
  charge_attempts: number;
  refund_attempts: number;
  failure_reason: string | null;
  card_last4: string;
  card_brand: string;
  initiated_by: string | null;
}

export async function journalRow(db: pg.Pool, topUpId: string): Promise<JournalRow> {
  const { rows } = await db.query<JournalRow>('SELECT * FROM card_adapter.top_ups WHERE id = $1', [topUpId]);
  if (!rows[0]) throw new Error(`no top-up ${topUpId}`);
  return rows[0];
}

export async function journalByKey(db: pg.Pool, idempotencyKey: string): Promise<JournalRow | undefined> {
  const { rows } = await db.query<JournalRow>('SELECT * FROM card_adapter.top_ups WHERE idempotency_key = $1', [idempotencyKey]);
  return rows[0];
}

export interface LedgerCharge {
  id: string;
  status: string;
  refund_id: string | null;
  amount_minor: string;
}

/** The payment gateway mock's ledger rows (its own schema, same test database) for a top-up's charge key. */
export async function chargesFor(db: pg.Pool, topUpId: string): Promise<LedgerCharge[]> {
  const { rows } = await db.query<LedgerCharge>('SELECT * FROM payment_gateway_mock.charges WHERE idempotency_key = $1', [
    `topup-${topUpId}-charge`,
  ]);
  return rows;
}

/** Every stored byte of the service's schema as text, to prove no card number is in it. */
export async function everythingStored(db: pg.Pool): Promise<string> {
  const { rows } = await db.query<{ t: string }>(
    `SELECT t::text AS t FROM card_adapter.top_ups t
     UNION ALL SELECT u::text FROM card_adapter.top_up_transitions u
     UNION ALL SELECT c::text FROM payment_gateway_mock.charges c`,
  );
  return rows.map((r) => r.t).join('\n');
}
