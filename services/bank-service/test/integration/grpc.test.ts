// The service as a caller sees it: a real gRPC server on port 0, a real
// client, status codes and ErrorInfo reasons; plus health and ops endpoints.
import { makeClientConstructor, status as Status, type Client } from '@grpc/grpc-js';
import {
  type BankServiceClient,
  TransferStatus,
  type DepositMoneyRequest,
  type TransferMoneyRequest,
} from '@wallet/contracts/bank';
import { callUnary, parseGrpcError } from '@wallet/platform';
import { createTestDatabase, type TestDatabase } from '@wallet/testkit';
import { service as healthService } from 'grpc-health-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BANK_SERVICE_NAME, startBankService, type RunningBankService } from '../../src/app/service.js';
import { ADMIN_USER, DEPOSITOR, startTestCallers, type TestCallers } from '../support/callers.js';
import { testClientTransport } from '../../../../test/support/pki.js';
import { ALICE, BOB, bankClient, createAccounts, SETTLEMENT, silentLogger, testConfig } from '../support/helpers.js';

let db: TestDatabase;
let callers: TestCallers;
let admin: { authorization: string };
let service: RunningBankService;
let client: BankServiceClient;
/** The card adapter's client: DepositMoney is its alone. */
let cardAdapter: BankServiceClient;
const TIMEOUT_MS = 10_000;

beforeAll(async () => {
  db = await createTestDatabase('bank_grpc');
  callers = await startTestCallers();
  admin = await callers.admin();
  // Migrations run on start (BANK_MIGRATE_ON_START defaults to true).
  service = await startBankService(await testConfig(db.url, callers.env), silentLogger);
  client = await bankClient(service.grpcPort);
  cardAdapter = await bankClient(service.grpcPort, 'bank-card-adapter');
});

afterAll(async () => {
  client?.close();
  cardAdapter?.close();
  await service?.close();
  await callers?.close();
  await db?.drop();
});

const transfer = (request: Partial<TransferMoneyRequest>) =>
  callUnary(
    client,
    client.transferMoney,
    {
      senderAccountId: ALICE,
      recipientAccountId: BOB,
      amount: { amountMinor: 100n, currencyCode: 'USD' },
      idempotencyKey: `grpc-${Math.random()}`,
      description: '',
      ...request,
    },
    { timeoutMs: TIMEOUT_MS, headers: admin },
  );

async function grpcFailure(promise: Promise<unknown>) {
  try {
    await promise;
  } catch (error) {
    return parseGrpcError(error);
  }
  throw new Error('expected the call to fail');
}

describe('TransferMoney over gRPC', () => {
  it('completes a transfer and returns it with exact amounts and a timestamp', async () => {
    const [from, to] = await createAccounts(service.pool, 2, 100_000n);
    const response = await transfer({ senderAccountId: from!, recipientAccountId: to!, amount: { amountMinor: 1_050n, currencyCode: 'USD' }, description: 'hi' });
    expect(response.replayed).toBe(false);
    expect(response.transfer).toMatchObject({
      senderAccountId: from,
      recipientAccountId: to,
      amount: { amountMinor: 1_050n, currencyCode: 'USD' },
      status: TransferStatus.TRANSFER_STATUS_COMPLETED,
      description: 'hi',
      initiatedBy: ADMIN_USER,
    });
    expect(response.transfer!.createdAt).toBeInstanceOf(Date);
  });

  it('replays with replayed=true and the identical transfer', async () => {
    const request = { idempotencyKey: 'grpc-replay', amount: { amountMinor: 5n, currencyCode: 'USD' } };
    const first = await transfer(request);
    const second = await transfer(request);
    expect(second).toEqual({ ...first, replayed: true });
  });

  it.each<[string, Partial<TransferMoneyRequest>, Status, string]>([
    ['malformed sender id', { senderAccountId: 'abc' }, Status.INVALID_ARGUMENT, 'INVALID_ARGUMENT'],
    ['missing amount', { amount: undefined }, Status.INVALID_ARGUMENT, 'INVALID_ARGUMENT'],
    ['empty idempotency key', { idempotencyKey: '' }, Status.INVALID_ARGUMENT, 'INVALID_ARGUMENT'],
    ['zero amount', { amount: { amountMinor: 0n, currencyCode: 'USD' } }, Status.INVALID_ARGUMENT, 'INVALID_AMOUNT'],
    ['negative amount', { amount: { amountMinor: -1n, currencyCode: 'USD' } }, Status.INVALID_ARGUMENT, 'INVALID_AMOUNT'],
    ['amount above the maximum', { amount: { amountMinor: 100_000_001n, currencyCode: 'USD' } }, Status.INVALID_ARGUMENT, 'INVALID_AMOUNT'],
    ['unknown recipient', { recipientAccountId: '00000000-0000-4000-8000-00000000dead' }, Status.NOT_FOUND, 'ACCOUNT_NOT_FOUND'],
    ['unknown sender', { senderAccountId: '00000000-0000-4000-8000-00000000dead' }, Status.NOT_FOUND, 'ACCOUNT_NOT_FOUND'],
    ['settlement account', { recipientAccountId: SETTLEMENT }, Status.NOT_FOUND, 'ACCOUNT_NOT_FOUND'],
    ['same account', { recipientAccountId: ALICE }, Status.FAILED_PRECONDITION, 'SAME_ACCOUNT'],
    ['insufficient funds', { amount: { amountMinor: 90_000_000n, currencyCode: 'USD' } }, Status.FAILED_PRECONDITION, 'INSUFFICIENT_FUNDS'],
    ['currency mismatch', { amount: { amountMinor: 1n, currencyCode: 'EUR' } }, Status.FAILED_PRECONDITION, 'CURRENCY_MISMATCH'],
  ])('%s -> %s with reason %s', async (_name, request, code, reason) => {
    const failure = await grpcFailure(transfer(request));
    expect(failure.code).toBe(code);
    expect(failure.reason).toBe(reason);
    expect(failure.domain).toBe('bank.wallet');
  });

  it('lists field violations for malformed input', async () => {
    const failure = await grpcFailure(transfer({ senderAccountId: 'x', description: 'd'.repeat(141) }));
    expect(failure.fieldViolations.map((v) => v.field)).toEqual(['sender_account_id', 'description']);
  });

  it('says which account was not found', async () => {
    const failure = await grpcFailure(transfer({ senderAccountId: '00000000-0000-4000-8000-00000000dead' }));
    expect(failure.metadata).toEqual({ accountId: '00000000-0000-4000-8000-00000000dead', role: 'sender' });
  });

  it('answers a reused key with FAILED_PRECONDITION / IDEMPOTENCY_KEY_REUSED', async () => {
    await transfer({ idempotencyKey: 'grpc-reuse' });
    const failure = await grpcFailure(transfer({ idempotencyKey: 'grpc-reuse', amount: { amountMinor: 101n, currencyCode: 'USD' } }));
    expect([failure.code, failure.reason]).toEqual([Status.FAILED_PRECONDITION, 'IDEMPOTENCY_KEY_REUSED']);
  });

  it('answers a key in flight with ABORTED / IDEMPOTENCY_KEY_IN_FLIGHT', async () => {
    const [from, to] = await createAccounts(service.pool, 2, 1_000n);
    const request = { senderAccountId: from!, recipientAccountId: to!, idempotencyKey: 'grpc-in-flight' };
    const results = await Promise.allSettled(Array.from({ length: 20 }, () => transfer(request)));
    const failures = results.flatMap((r) => (r.status === 'rejected' ? [parseGrpcError(r.reason)] : []));
    for (const failure of failures) expect([failure.code, failure.reason]).toEqual([Status.ABORTED, 'IDEMPOTENCY_KEY_IN_FLIGHT']);
    const created = results.filter((r) => r.status === 'fulfilled' && !r.value.replayed);
    expect(created).toHaveLength(1);
  });
});

describe('GetBalance and DepositMoney over gRPC', () => {
  it('returns a balance as exact minor units', async () => {
    const [account] = await createAccounts(service.pool, 1, 123_456n);
    const response = await callUnary(client, client.getBalance, { accountId: account! }, { timeoutMs: TIMEOUT_MS, headers: admin });
    expect(response).toMatchObject({ accountId: account, balance: { amountMinor: 123_456n, currencyCode: 'USD' } });
    expect(response.updatedAt).toBeInstanceOf(Date);
  });

  it('answers NOT_FOUND for an unknown account and INVALID_ARGUMENT for a malformed id', async () => {
    const unknown = await grpcFailure(callUnary(client, client.getBalance, { accountId: '00000000-0000-4000-8000-00000000dead' }, { timeoutMs: TIMEOUT_MS, headers: admin }));
    expect([unknown.code, unknown.reason]).toEqual([Status.NOT_FOUND, 'ACCOUNT_NOT_FOUND']);
    const malformed = await grpcFailure(callUnary(client, client.getBalance, { accountId: 'nope' }, { timeoutMs: TIMEOUT_MS, headers: admin }));
    expect([malformed.code, malformed.reason]).toEqual([Status.INVALID_ARGUMENT, 'INVALID_ARGUMENT']);
  });

  it('deposits once per reference and replays it', async () => {
    const [account] = await createAccounts(service.pool, 1, 0n);
    const request: DepositMoneyRequest = {
      accountId: account!,
      amount: { amountMinor: 2_000n, currencyCode: 'USD' },
      depositReference: 'grpc-deposit-1',
      topUpId: '7a000000-0000-4000-8000-0000000000aa',
      card: { cardLast4: '4242', cardBrand: 'visa' },
      initiatedBy: DEPOSITOR,
    };
    const depositOptions = { timeoutMs: TIMEOUT_MS };
    const first = await callUnary(cardAdapter, cardAdapter.depositMoney, request, depositOptions);
    const second = await callUnary(cardAdapter, cardAdapter.depositMoney, request, depositOptions);
    expect(first.replayed).toBe(false);
    expect(first.deposit).toMatchObject({
      accountId: account,
      amount: { amountMinor: 2_000n, currencyCode: 'USD' },
      depositReference: 'grpc-deposit-1',
      topUpId: request.topUpId,
      initiatedBy: DEPOSITOR,
    });
    expect(second).toEqual({ ...first, replayed: true });
    const reused = await grpcFailure(callUnary(cardAdapter, cardAdapter.depositMoney, { ...request, amount: { amountMinor: 1n, currencyCode: 'USD' } }, depositOptions));
    expect([reused.code, reused.reason]).toEqual([Status.FAILED_PRECONDITION, 'IDEMPOTENCY_KEY_REUSED']);
    const unknown = await grpcFailure(
      callUnary(cardAdapter, cardAdapter.depositMoney, { ...request, depositReference: 'grpc-deposit-2', accountId: '00000000-0000-4000-8000-00000000dead' }, depositOptions),
    );
    expect([unknown.code, unknown.reason]).toEqual([Status.NOT_FOUND, 'ACCOUNT_NOT_FOUND']);
  });
});

describe('health, readiness and metrics', () => {
  it('records where a transfer spends its time: bank_transfer_phase_seconds for every phase', async () => {
    const phaseCounts = async () => {
      const text = await service.registry.getSingleMetricAsString('bank_transfer_phase_seconds');
      const counts = new Map<string, number>();
      for (const match of text.matchAll(/^bank_transfer_phase_seconds_count\{[^}]*phase="(\w+)"[^}]*\} (\d+)/gm)) counts.set(match[1]!, Number(match[2]));
      return counts;
    };
    const before = await phaseCounts();
    const [from, to] = await createAccounts(service.pool, 2, 100_000n);
    await transfer({ senderAccountId: from!, recipientAccountId: to! });
    const after = await phaseCounts();
    // Per transfer: auth and queue exactly once; per batch attempt: every database phase at least once.
    for (const phase of ['auth', 'queue']) expect((after.get(phase) ?? 0) - (before.get(phase) ?? 0), phase).toBe(1);
    for (const phase of ['begin', 'lock', 'decide', 'write', 'commit']) expect((after.get(phase) ?? 0) - (before.get(phase) ?? 0), phase).toBeGreaterThanOrEqual(1);
  });

  it('reports SERVING on the gRPC health service for the bank service name to any certificate of the CA', async () => {
    const HealthClient = makeClientConstructor(healthService, 'grpc.health.v1.Health');
    // analytics-service is in none of the bank's rows: health is open to every authenticated caller (ADR 0009).
    const transport = await testClientTransport('bank-service', 'analytics-service');
    const health = new HealthClient(`127.0.0.1:${service.grpcPort}`, transport.credentials, transport.channelOptions) as unknown as Client & {
      check: (req: { service: string }, options: object, cb: (e: Error | null, r: { status: string }) => void) => void;
    };
    try {
      const response = await new Promise<{ status: string }>((resolve, reject) =>
        health.check({ service: BANK_SERVICE_NAME }, { deadline: Date.now() + TIMEOUT_MS }, (e, r) => (e ? reject(e) : resolve(r))),
      );
      expect(response.status).toBe('SERVING');
    } finally {
      health.close();
    }
  });

  it('serves /healthz, /readyz (database checked) and /metrics with transfer outcomes', async () => {
    const base = `http://127.0.0.1:${service.opsPort}`;
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    const ready = await fetch(`${base}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ checks: { database: 'ok' } });
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toMatch(/bank_transfers_total\{outcome="completed",service="bank-service"\} \d+/);
    expect(metrics).toMatch(/bank_transfers_total\{outcome="insufficient_funds",service="bank-service"\} \d+/);
    // Latency per RPC is the platform's histogram now; the bank's own is gone.
    expect(metrics).toMatch(/grpc_server_handling_seconds_bucket\{[^}]*grpc_method="TransferMoney"[^}]*\}/);
    expect(metrics).not.toContain('bank_rpc_duration_seconds');
    expect(metrics).toMatch(/bank_transfer_volume_minor_total\{currency="USD",service="bank-service"\} [1-9]\d*/);
    expect(metrics).toMatch(/bank_deposit_volume_minor_total\{currency="USD",service="bank-service"\} [1-9]\d*/);
    expect(metrics).toContain('bank_db_pool_connections{state="total"');
    expect(metrics).toMatch(/bank_owner_cache_entries\{service="bank-service"\} \d+/);
  });
});
