import { status as GrpcStatus } from '@grpc/grpc-js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ALICE, CREATED_AT, grpcError, problemOf, startTestGateway, transportError, UNKNOWN_ACCOUNT, type TestGateway } from '../support/gateway.js';

describe('GET /accounts/{accountId}/balance', () => {
  let gw: TestGateway;
  beforeEach(async () => {
    gw = await startTestGateway();
  });
  afterEach(async () => {
    await gw.close();
  });

  it('200 with the balance as a two-decimal string', async () => {
    const res = await gw.inject({ method: 'GET', url: `/accounts/${ALICE}/balance` });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({
      accountId: ALICE,
      balance: '1000.00',
      available: '1000.00',
      pending: '0.00',
      posted: '1000.00',
      overdraftLimit: '0.00',
      currency: 'USD',
      updatedAt: '2025-01-02T03:04:05.678Z',
    });
    expect(gw.clients.bank.getBalance).toHaveBeenCalledWith(
      { accountId: ALICE },
      { requestId: res.headers['x-request-id'], authorization: expect.stringMatching(/^Bearer ey/) },
    );
  });

  it('the parts of a balance under holds and an overdraft: balance = available, which may be negative', async () => {
    gw.clients.bank.getBalance.mockResolvedValueOnce({
      accountId: ALICE,
      balance: { amountMinor: -2_500n, currencyCode: 'USD' },
      updatedAt: CREATED_AT,
      available: { amountMinor: -2_500n, currencyCode: 'USD' },
      pending: { amountMinor: -7_500n, currencyCode: 'USD' },
      posted: { amountMinor: 5_000n, currencyCode: 'USD' },
      overdraftLimit: { amountMinor: 10_000n, currencyCode: 'USD' },
    });
    const res = await gw.inject({ method: 'GET', url: `/accounts/${ALICE}/balance` });
    expect(res.json()).toMatchObject({ balance: '-25.00', available: '-25.00', pending: '-75.00', posted: '50.00', overdraftLimit: '100.00' });
  });

  it('?at=: the posted balance at that instant from GetBalanceAt', async () => {
    gw.clients.bank.getBalanceAt.mockImplementationOnce(async ({ accountId, at }) => ({ accountId, balance: { amountMinor: -1_050n, currencyCode: 'USD' }, at, lastEntryId: 7n }));
    const res = await gw.inject({ method: 'GET', url: `/accounts/${ALICE}/balance?at=2026-03-01T12:00:00.5%2B01:00` });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ accountId: ALICE, balance: '-10.50', currency: 'USD', at: '2026-03-01T11:00:00.500Z' });
    expect(gw.clients.bank.getBalanceAt).toHaveBeenCalledWith({ accountId: ALICE, at: new Date('2026-03-01T11:00:00.500Z') }, expect.anything());
    expect(gw.clients.bank.getBalance).not.toHaveBeenCalled();
  });

  it('?at= that is not an RFC 3339 date-time is a 400, before the bank is asked', async () => {
    const res = await gw.inject({ method: 'GET', url: `/accounts/${ALICE}/balance?at=yesterday` });
    expect(res.statusCode).toBe(400);
    expect(problemOf(res).errors).toEqual([expect.objectContaining({ field: 'query.at' })]);
    expect(gw.clients.bank.getBalanceAt).not.toHaveBeenCalled();
  });

  it('?at= for an account the caller may not read is a 404', async () => {
    const res = await gw.inject({ method: 'GET', url: `/accounts/${UNKNOWN_ACCOUNT}/balance?at=2026-03-01T00:00:00Z` });
    expect(res.statusCode).toBe(404);
  });

  it('404 for an unknown account', async () => {
    const res = await gw.inject({ method: 'GET', url: `/accounts/${UNKNOWN_ACCOUNT}/balance` });
    expect(res.statusCode).toBe(404);
    expect(problemOf(res)).toMatchObject({ type: 'urn:problem:wallet:account-not-found', code: 'ACCOUNT_NOT_FOUND' });
  });

  it('400 for an account id that is not a UUID', async () => {
    const res = await gw.inject({ method: 'GET', url: '/accounts/12345/balance' });
    expect(res.statusCode).toBe(400);
    expect(problemOf(res).errors).toEqual([expect.objectContaining({ field: 'path.accountId' })]);
    expect(gw.clients.bank.getBalance).not.toHaveBeenCalled();
  });

  it('503 with Retry-After while the bank is unavailable', async () => {
    gw.clients.bank.getBalance.mockRejectedValueOnce(transportError(GrpcStatus.UNAVAILABLE, 'No connection established'));
    const res = await gw.inject({ method: 'GET', url: `/accounts/${ALICE}/balance` });
    expect(res.statusCode).toBe(503);
    expect(res.headers['retry-after']).toBe('1');
    expect(problemOf(res).type).toBe('urn:problem:wallet:service-unavailable');
  });

  it('504 when the bank misses the deadline', async () => {
    gw.clients.bank.getBalance.mockRejectedValueOnce(transportError(GrpcStatus.DEADLINE_EXCEEDED, 'Deadline exceeded'));
    const res = await gw.inject({ method: 'GET', url: `/accounts/${ALICE}/balance` });
    expect(res.statusCode).toBe(504);
    expect(problemOf(res).type).toBe('urn:problem:wallet:upstream-timeout');
  });

  it('500 (logged, nothing leaked) for an unexpected bank status', async () => {
    gw.clients.bank.getBalance.mockRejectedValueOnce(transportError(GrpcStatus.UNIMPLEMENTED, 'method GetBalance not implemented'));
    const res = await gw.inject({ method: 'GET', url: `/accounts/${ALICE}/balance` });
    expect(res.statusCode).toBe(500);
    expect(problemOf(res).detail).not.toContain('GetBalance');
    expect(gw.logLines.some((l) => l.includes('"level":50') && l.includes('GetBalance'))).toBe(true);
  });

  it('a mapped status the operation does not declare becomes a 500 (the contract is never broken)', async () => {
    gw.clients.bank.getBalance.mockRejectedValueOnce(grpcError(GrpcStatus.FAILED_PRECONDITION, 'INSUFFICIENT_FUNDS'));
    const res = await gw.inject({ method: 'GET', url: `/accounts/${ALICE}/balance` });
    expect(res.statusCode).toBe(500);
  });
});
