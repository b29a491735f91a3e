// Account limits (issue #15 F2) against a fake bank: request mapping (absent
// = unchanged, null = clear, "0" is a limit), answers per openapi.yaml (checked
// by the contract validator on every inject), bank reasons as problem+json.
import { status as GrpcStatus } from '@grpc/grpc-js';
import type { AccountLimits } from '@wallet/contracts/bank';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ALICE, ALICE_USER, grpcError, problemOf, startTestGateway, type TestGateway } from '../support/gateway.js';

const usd = (amountMinor: bigint) => ({ amountMinor, currencyCode: 'USD' });

function limits(overrides: Partial<AccountLimits> = {}): AccountLimits {
  return {
    accountId: ALICE,
    currency: 'USD',
    overdraftLimit: usd(0n),
    dailyLimit: usd(25_000n),
    monthlyLimit: undefined,
    dailyLimitMax: usd(100_000n),
    monthlyLimitMax: undefined,
    timeZone: 'Europe/Paris',
    dailySpent: usd(4_050n),
    monthlySpent: usd(9_000n),
    dailyRemaining: usd(20_950n),
    monthlyRemaining: undefined,
    ...overrides,
  };
}

describe('limits routes', () => {
  let gw: TestGateway;
  let auth: string;
  beforeEach(async () => {
    gw = await startTestGateway();
    auth = await gw.bearer(ALICE_USER);
  });
  afterEach(async () => {
    await gw.close();
  });

  const put = (payload: unknown, accountId = ALICE) =>
    gw.inject({ method: 'PUT', url: `/accounts/${accountId}/limits`, headers: { 'content-type': 'application/json' }, payload: payload as string, auth });

  it('GET /accounts/{id}/limits: decimal strings, null for no limit, no-store, token forwarded', async () => {
    gw.clients.bank.getAccountLimits.mockResolvedValueOnce({ limits: limits() });
    const res = await gw.inject({ method: 'GET', url: `/accounts/${ALICE.toUpperCase()}/limits`, auth });
    expect(res.statusCode).toBe(200);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.json()).toEqual({
      accountId: ALICE,
      currency: 'USD',
      overdraftLimit: '0.00',
      dailyLimit: '250.00',
      monthlyLimit: null,
      dailyLimitMax: '1000.00',
      monthlyLimitMax: null,
      timeZone: 'Europe/Paris',
      dailySpent: '40.50',
      monthlySpent: '90.00',
      dailyRemaining: '209.50',
      monthlyRemaining: null,
    });
    const [request, context] = gw.clients.bank.getAccountLimits.mock.calls[0]!;
    expect(request).toEqual({ accountId: ALICE });
    expect(context.authorization).toBe(auth);
  });

  it('PUT: absent fields unchanged, null clears, "0" is a limit, the zone passed as given', async () => {
    gw.clients.bank.setAccountLimits.mockResolvedValueOnce({ limits: limits() });
    const res = await put({ dailyLimit: '250', monthlyLimit: null, overdraftLimit: '0', timeZone: 'Europe/Paris' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ dailyLimit: '250.00', timeZone: 'Europe/Paris' });
    expect(gw.clients.bank.setAccountLimits.mock.calls[0]![0]).toEqual({
      accountId: ALICE,
      overdraftLimit: { clear: false, amountMinor: 0n },
      dailyLimit: { clear: false, amountMinor: 25_000n },
      monthlyLimit: { clear: true, amountMinor: 0n },
      dailyLimitMax: undefined,
      monthlyLimitMax: undefined,
      timeZone: 'Europe/Paris',
    });
  });

  it('PUT with an empty object changes nothing and answers the limits', async () => {
    gw.clients.bank.setAccountLimits.mockResolvedValueOnce({ limits: limits() });
    expect((await put({})).statusCode).toBe(200);
    expect(gw.clients.bank.setAccountLimits.mock.calls[0]![0]).toMatchObject({ dailyLimit: undefined, timeZone: '' });
  });

  it.each([
    ['a negative limit', { dailyLimit: '-1.00' }],
    ['three decimals', { dailyLimit: '1.005' }],
    ['a number', { monthlyLimit: 100 }],
    ['an empty time zone', { timeZone: '' }],
    ['an unknown field', { weeklyLimit: '1.00' }],
  ])('400 for %s, and the bank is not called', async (_name, payload) => {
    const res = await put(payload);
    expect(res.statusCode).toBe(400);
    expect(gw.clients.bank.setAccountLimits).not.toHaveBeenCalled();
  });

  it.each([
    ['a customer above the maximum', GrpcStatus.FAILED_PRECONDITION, 'LIMIT_ABOVE_MAXIMUM', { limit: 'daily', maximum: '1000.00' }, 422, 'limit-above-maximum'],
    ['a customer setting the overdraft', GrpcStatus.PERMISSION_DENIED, 'ROLE_FORBIDDEN', { action: 'set the overdraft limit or the limit maxima' }, 403, 'forbidden'],
    ['support', GrpcStatus.PERMISSION_DENIED, 'ROLE_FORBIDDEN', { action: 'set account limits' }, 403, 'forbidden'],
    ['an overdraft below the debt', GrpcStatus.FAILED_PRECONDITION, 'LIMIT_EXCEEDED', { limit: 'overdraft', debt: '5.00' }, 422, 'limit-exceeded'],
    ['another owner', GrpcStatus.NOT_FOUND, 'ACCOUNT_NOT_FOUND', { accountId: ALICE, role: 'account' }, 404, 'not-found'],
    ['an unknown time zone', GrpcStatus.INVALID_ARGUMENT, 'INVALID_ARGUMENT', {}, 400, 'invalid-argument'],
  ] as const)('maps %s (%s %s) to %s', async (_name, code, reason, metadata, status, slug) => {
    gw.clients.bank.setAccountLimits.mockRejectedValueOnce(grpcError(code, reason, reason.toLowerCase(), metadata));
    const res = await put({ dailyLimit: '5000.00' });
    expect(res.statusCode).toBe(status);
    const problem = problemOf(res);
    expect(String(problem.type)).toContain(slug);
    if (reason === 'LIMIT_ABOVE_MAXIMUM') expect(problem).toMatchObject({ limit: 'daily', maximum: '1000.00' });
  });

  it('400 for an account id that is not a UUID; 401 without a token', async () => {
    expect((await put({}, 'nope')).statusCode).toBe(400);
    const res = await gw.inject({ method: 'GET', url: `/accounts/${ALICE}/limits`, auth: false });
    expect(res.statusCode).toBe(401);
  });
});
