import { status as GrpcStatus } from '@grpc/grpc-js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ALICE, grpcError, problemOf, startTestGateway, transportError, UNKNOWN_ACCOUNT, type TestGateway } from '../support/gateway.js';

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
    expect(res.json()).toEqual({ accountId: ALICE, balance: '1000.00', currency: 'USD', updatedAt: '2025-01-02T03:04:05.678Z' });
    expect(gw.clients.bank.getBalance).toHaveBeenCalledWith(
      { accountId: ALICE },
      { requestId: res.headers['x-request-id'], authorization: expect.stringMatching(/^Bearer ey/) },
    );
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
