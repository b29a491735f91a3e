import { status as GrpcStatus } from '@grpc/grpc-js';
import { TopUpRefundStatus } from '@wallet/contracts/card-adapter';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ALICE, grpcError, problemOf, refundResponse, startTestGateway, type TestGateway } from '../support/gateway.js';

const TOP_UP = '70B0C0DE-0000-4000-8000-000000000002';
const url = `/topups/${TOP_UP}/refund`;

describe('POST /topups/{topUpId}/refund', () => {
  let gw: TestGateway;
  beforeEach(async () => {
    gw = await startTestGateway();
  });
  afterEach(async () => {
    await gw.close();
  });
  const post = async (payload?: unknown, headers: Record<string, string> = { 'idempotency-key': 'refund-1' }) =>
    gw.inject({
      method: 'POST',
      url,
      auth: await gw.bearer(),
      headers: payload === undefined ? headers : { ...headers, 'content-type': 'application/json' },
      ...(payload === undefined ? {} : { payload: JSON.stringify(payload) }),
    });

  it('201 with the refund; the adapter gets the top-up id, minor units and the Idempotency-Key', async () => {
    const res = await post({ amount: '10.50' });
    expect(res.statusCode).toBe(201);
    expect(res.json()).toEqual({
      id: '7ef0c0de-0000-4000-8000-000000000009',
      topUpId: TOP_UP.toLowerCase(),
      accountId: ALICE,
      amount: '10.50',
      currency: 'USD',
      status: 'succeeded',
      createdAt: '2025-01-02T03:04:05.678Z',
      initiatedBy: '11111111-1111-4111-8111-111111111111',
    });
    const [request] = gw.clients.cardAdapter.refundTopUp.mock.calls[0]!;
    expect(request).toEqual({ topUpId: TOP_UP.toLowerCase(), amount: { amountMinor: 1050n, currencyCode: 'USD' }, idempotencyKey: 'refund-1' });
  });

  it('no body refunds all that remains (no amount sent); a replay says Idempotent-Replayed', async () => {
    gw.clients.cardAdapter.refundTopUp.mockImplementationOnce(async (request) => refundResponse(request, true));
    const res = await post();
    expect(res.statusCode).toBe(201);
    expect(res.headers['idempotent-replayed']).toBe('true');
    expect(gw.clients.cardAdapter.refundTopUp.mock.calls[0]![0].amount).toBeUndefined();
  });

  it('202 while the refund is pending, 201 with failed and its reason when the card refund was refused (money back in the wallet)', async () => {
    gw.clients.cardAdapter.refundTopUp.mockImplementationOnce(async (request) => refundResponse(request, false, TopUpRefundStatus.TOP_UP_REFUND_STATUS_PENDING));
    const pending = await post({ amount: '1.00' });
    expect(pending.statusCode).toBe(202);
    expect(pending.json()).toMatchObject({ status: 'pending' });
    gw.clients.cardAdapter.refundTopUp.mockImplementationOnce(async (request) => refundResponse(request, false, TopUpRefundStatus.TOP_UP_REFUND_STATUS_FAILED));
    const failed = await post({ amount: '1.00' }, { 'idempotency-key': 'refund-2' });
    expect(failed.statusCode).toBe(201);
    expect(failed.json()).toMatchObject({ status: 'failed', failureReason: 'CARD_REFUND_DECLINED' });
  });

  it.each([
    ['INSUFFICIENT_FUNDS', GrpcStatus.FAILED_PRECONDITION, 422, 'insufficient-funds', {}],
    ['REFUND_EXCEEDS_DEPOSIT', GrpcStatus.FAILED_PRECONDITION, 422, 'refund-exceeds-top-up', { remaining: '4.00' }],
    ['TOP_UP_NOT_REFUNDABLE', GrpcStatus.FAILED_PRECONDITION, 422, 'top-up-not-refundable', {}],
    ['TOP_UP_NOT_FOUND', GrpcStatus.NOT_FOUND, 404, 'top-up-not-found', {}],
    ['ROLE_FORBIDDEN', GrpcStatus.PERMISSION_DENIED, 403, 'forbidden', {}],
    ['IDEMPOTENCY_KEY_REUSED', GrpcStatus.FAILED_PRECONDITION, 422, 'idempotency-key-reused', {}],
  ] as const)('%s from the adapter (gRPC code %i) is %i %s', async (reason, code, status, slug, metadata) => {
    gw.clients.cardAdapter.refundTopUp.mockRejectedValueOnce(grpcError(code, reason, 'refused', { ...metadata, charged: 'true' }));
    const res = await post({ amount: '5.00' });
    expect(res.statusCode).toBe(status);
    const problem = problemOf(res);
    expect(problem).toMatchObject({ type: `urn:problem:wallet:${slug}`, code: reason === 'ROLE_FORBIDDEN' ? 'FORBIDDEN' : reason, ...metadata });
    expect(problem.charged).toBeUndefined();
  });

  it('400 before anything is sent: a number amount, zero, too many decimals, extra fields, no Idempotency-Key, a bad id', async () => {
    for (const body of [{ amount: 10 }, { amount: '0' }, { amount: '1.001' }, { amount: '1.00', extra: true }, []]) {
      expect((await post(body)).statusCode).toBe(400);
    }
    expect((await post({ amount: '1.00' }, {})).statusCode).toBe(400);
    const badId = await gw.inject({ method: 'POST', url: '/topups/nope/refund', auth: await gw.bearer(), headers: { 'idempotency-key': 'k' } });
    expect(badId.statusCode).toBe(400);
    expect(gw.clients.cardAdapter.refundTopUp).not.toHaveBeenCalled();
  });

  it('401 without a token', async () => {
    const res = await gw.inject({ method: 'POST', url, auth: false, headers: { 'idempotency-key': 'k' } });
    expect(res.statusCode).toBe(401);
  });
});

describe('GET /topups/{topUpId}/refunds', () => {
  it('lists the top-up\'s refunds from the adapter', async () => {
    const gw = await startTestGateway();
    try {
      gw.clients.cardAdapter.getTopUpRefund.mockImplementationOnce(async (request) => ({
        refunds: [refundResponse({ topUpId: request.topUpId, idempotencyKey: 'k', amount: { amountMinor: 250n, currencyCode: 'USD' } }).refund],
      }));
      const res = await gw.inject({ method: 'GET', url: `/topups/${TOP_UP}/refunds`, auth: await gw.bearer() });
      expect(res.statusCode).toBe(200);
      expect(res.json()).toMatchObject({ refunds: [{ topUpId: TOP_UP.toLowerCase(), amount: '2.50', status: 'succeeded' }] });
      expect(gw.clients.cardAdapter.getTopUpRefund.mock.calls[0]![0]).toEqual({ refundId: '', topUpId: TOP_UP.toLowerCase() });
    } finally {
      await gw.close();
    }
  });
});
