// Limits and balance parts as a caller sees them over gRPC (ADR 0016): status
// codes and ErrorInfo reasons per role, and GetBalance/ListAccounts built from
// the row's posted balance and pending holds.
import { status as Status } from '@grpc/grpc-js';
import type { BankServiceClient, SetAccountLimitsRequest } from '@wallet/contracts/bank';
import { callUnary, parseGrpcError } from '@wallet/platform';
import { createTestDatabase, type TestDatabase } from '@wallet/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBankService, type RunningBankService } from '../../src/app/service.js';
import { ALICE_USER, BOB_USER, SUPPORT_USER, startTestCallers, type TestCallers } from '../support/callers.js';
import { bankClient, createAccounts, silentLogger, testConfig } from '../support/helpers.js';

let db: TestDatabase;
let callers: TestCallers;
let service: RunningBankService;
let client: BankServiceClient;
const TIMEOUT_MS = 10_000;

beforeAll(async () => {
  db = await createTestDatabase('bank_limits_grpc');
  callers = await startTestCallers();
  service = await startBankService(await testConfig(db.url, callers.env), silentLogger);
  client = await bankClient(service.grpcPort);
});

afterAll(async () => {
  client?.close();
  await service?.close();
  await callers?.close();
  await db?.drop();
});

const usd = (amountMinor: bigint) => ({ amountMinor, currencyCode: 'USD' });
const set = (amountMinor: bigint) => ({ clear: false, amountMinor });

async function setLimits(headers: { authorization: string }, request: Partial<SetAccountLimitsRequest> & { accountId: string }) {
  return callUnary(
    client,
    client.setAccountLimits,
    { overdraftLimit: undefined, dailyLimit: undefined, monthlyLimit: undefined, dailyLimitMax: undefined, monthlyLimitMax: undefined, timeZone: '', ...request },
    { timeoutMs: TIMEOUT_MS, headers },
  );
}

async function grpcFailure(promise: Promise<unknown>) {
  try {
    await promise;
  } catch (error) {
    return parseGrpcError(error);
  }
  throw new Error('expected the call to fail');
}

async function ownedAccount(ownerId: string, balanceMinor: bigint): Promise<string> {
  const [id] = await createAccounts(service.pool, 1, balanceMinor);
  await service.pool.query('UPDATE bank.accounts SET owner_id = $2 WHERE id = $1', [id, ownerId]);
  return id!;
}

describe('SetAccountLimits / GetAccountLimits over gRPC', () => {
  it('answers each role as the proto says: owner within the maximum, 9 above it, 7 for the overdraft and for support, 5 for others', async () => {
    const account = await ownedAccount(ALICE_USER, 0n);
    const admin = await callers.admin();
    const alice = await callers.as(ALICE_USER);
    await setLimits(admin, { accountId: account, dailyLimitMax: set(5_000n) });

    const own = await setLimits(alice, { accountId: account, dailyLimit: set(4_000n), timeZone: 'Europe/Paris' });
    expect(own.limits).toMatchObject({ dailyLimit: usd(4_000n), dailyLimitMax: usd(5_000n), timeZone: 'Europe/Paris', dailyRemaining: usd(4_000n) });
    expect(own.limits?.monthlyLimit).toBeUndefined();

    const above = await grpcFailure(setLimits(alice, { accountId: account, dailyLimit: set(5_001n) }));
    expect(above).toMatchObject({ code: Status.FAILED_PRECONDITION, reason: 'LIMIT_ABOVE_MAXIMUM', metadata: { limit: 'daily', maximum: '50.00' } });
    const overdraft = await grpcFailure(setLimits(alice, { accountId: account, overdraftLimit: set(100n) }));
    expect(overdraft).toMatchObject({ code: Status.PERMISSION_DENIED, reason: 'ROLE_FORBIDDEN' });
    const support = await grpcFailure(setLimits(await callers.as(SUPPORT_USER, ['support']), { accountId: account, dailyLimit: set(1n) }));
    expect(support).toMatchObject({ code: Status.PERMISSION_DENIED, reason: 'ROLE_FORBIDDEN' });
    const bob = await grpcFailure(setLimits(await callers.as(BOB_USER), { accountId: account, dailyLimit: set(1n) }));
    expect(bob).toMatchObject({ code: Status.NOT_FOUND, reason: 'ACCOUNT_NOT_FOUND' });
    const zone = await grpcFailure(setLimits(admin, { accountId: account, timeZone: 'Not/AZone' }));
    expect(zone).toMatchObject({ code: Status.INVALID_ARGUMENT, reason: 'INVALID_ARGUMENT' });

    const read = await callUnary(client, client.getAccountLimits, { accountId: account }, { timeoutMs: TIMEOUT_MS, headers: await callers.as(SUPPORT_USER, ['support']) });
    expect(read.limits).toMatchObject({ accountId: account, dailyLimit: usd(4_000n), overdraftLimit: usd(0n), dailySpent: usd(0n), monthlySpent: usd(0n) });
  });
});

describe('balance parts', () => {
  it('GetBalance and ListAccounts: available = posted - pending out, pending = in - out, the overdraft, balance = available', async () => {
    const account = await ownedAccount(ALICE_USER, 10_000n);
    // Holds maintain these columns (F1); set them directly to see the arithmetic.
    await service.pool.query('UPDATE bank.accounts SET pending_out_minor = 3_000, pending_in_minor = 500, overdraft_limit_minor = 2_000 WHERE id = $1', [account]);
    const alice = await callers.as(ALICE_USER);

    const balance = await callUnary(client, client.getBalance, { accountId: account }, { timeoutMs: TIMEOUT_MS, headers: alice });
    expect(balance).toMatchObject({
      balance: usd(7_000n),
      available: usd(7_000n),
      pending: usd(-2_500n),
      posted: usd(10_000n),
      overdraftLimit: usd(2_000n),
    });
    const list = await callUnary(client, client.listAccounts, { ownerId: '' }, { timeoutMs: TIMEOUT_MS, headers: alice });
    expect(list.accounts.find((a) => a.accountId === account)).toMatchObject({
      balance: usd(7_000n),
      available: usd(7_000n),
      pending: usd(-2_500n),
      posted: usd(10_000n),
    });
  });
});
