import { status as GrpcStatus } from '@grpc/grpc-js';
import { TopUpStatus } from '@wallet/contracts/card-adapter';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ALICE, grpcError, problemOf, startTestGateway, topUpResponse, transportError, UNKNOWN_ACCOUNT, type TestGateway } from '../support/gateway.js';

const url = `/accounts/${ALICE}/topup`;
const headers = { 'content-type': 'application/json', 'idempotency-key': 'topup-1' };
const CARD_NUMBER = '4242424242424242';
const CVC = '987';
const body = {
  amount: '25.00',
  card: { number: '4242 4242 4242 4242', expiryMonth: 12, expiryYear: 2030, cvc: CVC, holderName: 'Ada Lovelace' },
};

describe('POST /accounts/{accountId}/topup', () => {
  let gw: TestGateway;
  beforeEach(async () => {
    gw = await startTestGateway();
  });
  afterEach(async () => {
    await gw.close();
  });
  const post = (payload: unknown = body, h: Record<string, string> = headers) =>
    gw.inject({ method: 'POST', url, headers: h, payload: JSON.stringify(payload) });

  it('201 with the TopUp resource; the adapter gets digits only, minor units, and the Idempotency-Key', async () => {
    const res = await post();
    expect(res.statusCode).toBe(201);
    expect(res.json()).toEqual({
      id: '70b0c0de-0000-4000-8000-000000000002',
      accountId: ALICE,
      amount: '25.00',
      currency: 'USD',
      status: 'completed',
      cardLast4: '4242',
      cardBrand: 'visa',
      createdAt: '2025-01-02T03:04:05.678Z',
    });
    const [request, context] = gw.clients.cardAdapter.processCardTopUp.mock.calls[0]!;
    expect(request).toEqual({
      accountId: ALICE,
      amount: { amountMinor: 2500n, currencyCode: 'USD' },
      card: { number: CARD_NUMBER, expiryMonth: 12, expiryYear: 2030, cvc: CVC, holderName: 'Ada Lovelace' },
      idempotencyKey: 'topup-1',
    });
    expect(context.requestId).toBe(res.headers['x-request-id']);
  });

  it('replays with Idempotent-Replayed: true and the same body', async () => {
    const first = await post();
    gw.clients.cardAdapter.processCardTopUp.mockImplementationOnce(async (request) => topUpResponse(request, true));
    const replay = await post();
    expect(replay.statusCode).toBe(201);
    expect(replay.json()).toEqual(first.json());
    expect(replay.headers['idempotent-replayed']).toBe('true');
  });

  describe('400: bad input is refused before anything is charged (charged: false)', () => {
    it.each([
      ['amount as a JSON number', { ...body, amount: 25 }, 'body.amount'],
      ['amount with 3 decimals', { ...body, amount: '25.001' }, 'body.amount'],
      ['card number with letters', { ...body, card: { ...body.card, number: '4242abcd42424242' } }, 'body.card.number'],
      ['card number too short', { ...body, card: { ...body.card, number: '42424242' } }, 'body.card.number'],
      ['month 13', { ...body, card: { ...body.card, expiryMonth: 13 } }, 'body.card.expiryMonth'],
      ['month as a string', { ...body, card: { ...body.card, expiryMonth: '12' } }, 'body.card.expiryMonth'],
      ['cvc of 2 digits', { ...body, card: { ...body.card, cvc: '12' } }, 'body.card.cvc'],
      ['missing card', { amount: '25.00' }, 'body.card'],
      ['unknown card field', { ...body, card: { ...body.card, pin: '1234' } }, 'body.card.pin'],
    ])('%s', async (_name, payload, field) => {
      const res = await post(payload);
      expect(res.statusCode).toBe(400);
      const problem = problemOf(res);
      expect(problem.charged).toBe(false);
      expect((problem.errors as { field: string }[]).map((e) => e.field)).toContain(field);
      expect(gw.clients.cardAdapter.processCardTopUp).not.toHaveBeenCalled();
    });

    it('missing Idempotency-Key', async () => {
      const res = await post(body, { 'content-type': 'application/json' });
      expect(res.statusCode).toBe(400);
      expect(problemOf(res)).toMatchObject({ code: 'INVALID_IDEMPOTENCY_KEY', charged: false });
    });
  });

  it('413 and 415 also say nothing was charged', async () => {
    const big = await post({ ...body, card: { ...body.card, holderName: 'x'.repeat(20_000) } });
    expect(big.statusCode).toBe(413);
    expect(problemOf(big).charged).toBe(false);
    const text = await gw.inject({ method: 'POST', url, headers: { ...headers, 'content-type': 'text/plain' }, payload: 'card' });
    expect(text.statusCode).toBe(415);
    expect(problemOf(text).charged).toBe(false);
  });

  describe('adapter errors', () => {
    const cases: [string, Error, number, string, boolean | undefined][] = [
      ['invalid card number (Luhn)', grpcError(GrpcStatus.INVALID_ARGUMENT, 'INVALID_CARD_NUMBER', 'card number fails the Luhn check', { charged: 'false' }), 422, 'invalid-card-number', false],
      ['card expired', grpcError(GrpcStatus.INVALID_ARGUMENT, 'CARD_EXPIRED', 'card expired', { charged: 'false' }), 422, 'card-expired', false],
      ['invalid CVC', grpcError(GrpcStatus.INVALID_ARGUMENT, 'INVALID_CVC', 'bad cvc', { charged: 'false' }), 422, 'invalid-cvc', false],
      ['amount above the limit', grpcError(GrpcStatus.INVALID_ARGUMENT, 'INVALID_AMOUNT', 'above the top-up limit'), 422, 'amount-out-of-range', false],
      ['declined', grpcError(GrpcStatus.FAILED_PRECONDITION, 'CARD_DECLINED', 'declined', { charged: 'false', decline_code: 'do_not_honor' }), 402, 'card-declined', false],
      ['card insufficient funds', grpcError(GrpcStatus.FAILED_PRECONDITION, 'CARD_INSUFFICIENT_FUNDS', 'no funds', { charged: 'false', decline_code: 'insufficient_funds' }), 402, 'card-insufficient-funds', false],
      ['unknown account', grpcError(GrpcStatus.NOT_FOUND, 'ACCOUNT_NOT_FOUND', `account ${UNKNOWN_ACCOUNT} not found`, { charged: 'false' }), 404, 'account-not-found', false],
      ['key in flight', grpcError(GrpcStatus.ABORTED, 'IDEMPOTENCY_KEY_IN_FLIGHT', 'in flight', { charged: 'false' }), 409, 'idempotency-key-in-flight', false],
      ['key reused', grpcError(GrpcStatus.FAILED_PRECONDITION, 'IDEMPOTENCY_KEY_REUSED', 'reused', { charged: 'false' }), 422, 'idempotency-key-reused', false],
      ['currency mismatch', grpcError(GrpcStatus.FAILED_PRECONDITION, 'CURRENCY_MISMATCH', 'EUR account', { charged: 'false' }), 422, 'currency-mismatch', false],
      ['payment gateway error', grpcError(GrpcStatus.UNAVAILABLE, 'PAYMENT_GATEWAY_ERROR', 'gateway 500', { charged: 'false' }), 502, 'payment-gateway-error', false],
      ['charged, deposit failed, refunded', grpcError(GrpcStatus.ABORTED, 'DEPOSIT_FAILED_REFUNDED', 'refunded', { charged: 'false' }), 502, 'top-up-refunded', false],
      ['charged, deposit failed, refund refused', grpcError(GrpcStatus.ABORTED, 'REFUND_FAILED', 'refund refused', { charged: 'true' }), 502, 'top-up-refund-failed', true],
      ['charged, pending recovery', grpcError(GrpcStatus.UNAVAILABLE, 'TOP_UP_PENDING', 'pending', { charged: 'true' }), 503, 'top-up-pending', true],
      ['payment gateway timeout', grpcError(GrpcStatus.DEADLINE_EXCEEDED, 'PAYMENT_GATEWAY_TIMEOUT', 'timeout', { charged: 'false' }), 504, 'payment-gateway-timeout', false],
      ['adapter unreachable (outcome unknown)', transportError(GrpcStatus.UNAVAILABLE, 'No connection established'), 503, 'service-unavailable', undefined],
      ['adapter deadline exceeded (outcome unknown)', transportError(GrpcStatus.DEADLINE_EXCEEDED, 'Deadline exceeded'), 504, 'upstream-timeout', undefined],
    ];
    it.each(cases)('%s', async (_name, error, status, slug, charged) => {
      gw.clients.cardAdapter.processCardTopUp.mockRejectedValueOnce(error);
      const res = await post();
      expect(res.statusCode).toBe(status);
      const problem = problemOf(res);
      expect(problem).toMatchObject({ status, type: `urn:problem:wallet:${slug}` });
      if (charged === undefined) expect(problem).not.toHaveProperty('charged');
      else expect(problem.charged).toBe(charged);
      if (status === 503) expect(res.headers['retry-after']).toBe('1');
    });

    it('500 for an unexpected adapter failure, charged left out (unknown)', async () => {
      gw.clients.cardAdapter.processCardTopUp.mockRejectedValueOnce(transportError(GrpcStatus.INTERNAL, 'db: relation missing'));
      const res = await post();
      expect(res.statusCode).toBe(500);
      const problem = problemOf(res);
      expect(problem.detail).not.toContain('relation');
      expect(problem).not.toHaveProperty('charged');
    });

    it('402 carries the decline code', async () => {
      gw.clients.cardAdapter.processCardTopUp.mockRejectedValueOnce(
        grpcError(GrpcStatus.FAILED_PRECONDITION, 'CARD_DECLINED', 'declined', { charged: 'false', decline_code: 'do_not_honor' }),
      );
      const problem = problemOf(await post());
      expect(problem).toMatchObject({ code: 'CARD_DECLINED', declineCode: 'do_not_honor', charged: false });
    });

    it.each([
      // The adapter does not know whether the card was charged: the answer does not claim it was.
      [TopUpStatus.TOP_UP_STATUS_PENDING, 503, undefined],
      [TopUpStatus.TOP_UP_STATUS_DECLINED, 402, false],
      [TopUpStatus.TOP_UP_STATUS_REFUNDED, 502, false],
      [TopUpStatus.TOP_UP_STATUS_REFUND_FAILED, 502, true],
      [TopUpStatus.TOP_UP_STATUS_FAILED, 502, false],
    ])('a response with status %s is never a 201 (-> %s)', async (status, httpStatus, charged) => {
      gw.clients.cardAdapter.processCardTopUp.mockImplementationOnce(async (request) => topUpResponse(request, false, status));
      const res = await post();
      expect(res.statusCode).toBe(httpStatus);
      expect(problemOf(res).charged).toBe(charged);
    });

    it('a pending top-up the adapter says charged the card reports charged: true', async () => {
      gw.clients.cardAdapter.processCardTopUp.mockImplementationOnce(async (request) => {
        const response = topUpResponse(request, false, TopUpStatus.TOP_UP_STATUS_PENDING);
        return { ...response, topUp: { ...response.topUp, charged: 'true' } };
      });
      const res = await post();
      expect(res.statusCode).toBe(503);
      expect(problemOf(res)).toMatchObject({ code: 'TOP_UP_PENDING', charged: true });
    });
  });

  it('never logs the card number or the CVC, on success or failure', async () => {
    await post();
    await post({ ...body, card: { ...body.card, cvc: '1' } });
    gw.clients.cardAdapter.processCardTopUp.mockRejectedValueOnce(transportError(GrpcStatus.INTERNAL, 'boom'));
    await post();
    gw.clients.cardAdapter.processCardTopUp.mockRejectedValueOnce(new Error('unexpected'));
    await post();
    const logs = gw.logLines.join('\n');
    expect(gw.logLines.length).toBeGreaterThan(3);
    expect(logs).not.toContain('4242 4242');
    expect(logs).not.toContain(CARD_NUMBER);
    expect(logs).not.toContain(`"${CVC}"`);
  });
});
