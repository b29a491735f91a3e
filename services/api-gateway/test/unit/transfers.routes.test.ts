import { status as GrpcStatus } from '@grpc/grpc-js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ALICE, BOB, grpcError, problemOf, startTestGateway, transferResponse, transportError, UNKNOWN_ACCOUNT, type TestGateway } from '../support/gateway.js';

const url = `/accounts/${ALICE}/transfers`;
const headers = { 'content-type': 'application/json', 'idempotency-key': 'key-1' };
const body = { recipientAccountId: BOB, amount: '10.50', description: 'Dinner' };

describe('POST /accounts/{accountId}/transfers', () => {
  let gw: TestGateway;
  beforeEach(async () => {
    gw = await startTestGateway();
  });
  afterEach(async () => {
    await gw.close();
  });

  const post = (payload: unknown, extraHeaders: Record<string, string> = headers, path = url) =>
    gw.inject({ method: 'POST', url: path, headers: extraHeaders, payload: payload as string });

  it('creates a transfer: 201 with the Transfer resource, amount sent to the bank in minor units of USD', async () => {
    const res = await post(body);
    expect(res.statusCode).toBe(201);
    expect(res.json()).toEqual({
      id: 'b1a7c0de-0000-4000-8000-000000000001',
      senderAccountId: ALICE,
      recipientAccountId: BOB,
      amount: '10.50',
      currency: 'USD',
      status: 'completed',
      description: 'Dinner',
      createdAt: '2025-01-02T03:04:05.678Z',
    });
    expect(res.headers['idempotent-replayed']).toBeUndefined();
    expect(gw.clients.bank.transferMoney).toHaveBeenCalledTimes(1);
    const [request, context] = gw.clients.bank.transferMoney.mock.calls[0]!;
    expect(request).toEqual({
      senderAccountId: ALICE,
      recipientAccountId: BOB,
      amount: { amountMinor: 1050n, currencyCode: 'USD' },
      idempotencyKey: 'key-1',
      description: 'Dinner',
    });
    expect(context.requestId).toBe(res.headers['x-request-id']);
  });

  it('accepts whole amounts and one decimal ("7" -> 700, "7.5" -> 750) and leaves out an empty description', async () => {
    await post({ recipientAccountId: BOB, amount: '7' });
    await post({ recipientAccountId: BOB, amount: '7.5' });
    const calls = gw.clients.bank.transferMoney.mock.calls;
    expect(calls.map(([r]) => r.amount!.amountMinor)).toEqual([700n, 750n]);
    expect(calls[0]![0].description).toBe('');
    const res = await post({ recipientAccountId: BOB, amount: '1.00' });
    expect(res.json()).not.toHaveProperty('description');
  });

  it('sends the canonical lower-case form of upper-case UUIDs', async () => {
    const res = await post({ recipientAccountId: BOB.toUpperCase(), amount: '1.00' }, headers, `/accounts/${ALICE.toUpperCase()}/transfers`);
    expect(res.statusCode).toBe(201);
    const [request] = gw.clients.bank.transferMoney.mock.calls[0]!;
    expect(request.senderAccountId).toBe(ALICE);
    expect(request.recipientAccountId).toBe(BOB);
  });

  it('replays: same status and body, with Idempotent-Replayed: true', async () => {
    const first = await post(body);
    gw.clients.bank.transferMoney.mockImplementationOnce(async (request) => transferResponse(request, true));
    const replay = await post(body);
    expect(replay.statusCode).toBe(first.statusCode);
    expect(replay.json()).toEqual(first.json());
    expect(replay.headers['idempotent-replayed']).toBe('true');
  });

  describe('400: malformed requests never reach the bank', () => {
    const cases: [string, unknown, string][] = [
      ['amount as a JSON number', { recipientAccountId: BOB, amount: 10.5 }, 'body.amount'],
      ['amount with 3 decimals', { recipientAccountId: BOB, amount: '10.505' }, 'body.amount'],
      ['negative amount', { recipientAccountId: BOB, amount: '-1.00' }, 'body.amount'],
      ['amount in exponent form', { recipientAccountId: BOB, amount: '1e3' }, 'body.amount'],
      ['zero amount', { recipientAccountId: BOB, amount: '0.00' }, 'body.amount'],
      ['recipient not a UUID', { recipientAccountId: 'bob', amount: '1.00' }, 'body.recipientAccountId'],
      ['missing recipient', { amount: '1.00' }, 'body.recipientAccountId'],
      ['missing amount', { recipientAccountId: BOB }, 'body.amount'],
      ['unknown field', { recipientAccountId: BOB, amount: '1.00', currency: 'EUR' }, 'body.currency'],
      ['description over 140 characters', { recipientAccountId: BOB, amount: '1.00', description: 'x'.repeat(141) }, 'body.description'],
      ['body is an array', [body], 'body'],
      ['body is a string', '"hello"', 'body'],
    ];
    it.each(cases)('%s', async (_name, payload, field) => {
      const res = await post(typeof payload === 'string' ? payload : JSON.stringify(payload));
      expect(res.statusCode).toBe(400);
      const problem = problemOf(res);
      expect(problem).toMatchObject({ status: 400, type: 'urn:problem:wallet:validation-error', code: 'VALIDATION_ERROR' });
      expect((problem.errors as { field: string }[]).map((e) => e.field)).toContain(field);
      expect(gw.clients.bank.transferMoney).not.toHaveBeenCalled();
    });

    it('explains that JSON numbers are rejected for amounts', async () => {
      const problem = problemOf(await post({ recipientAccountId: BOB, amount: 10 }));
      expect(problem.errors).toEqual([{ field: 'body.amount', message: expect.stringContaining('JSON numbers are rejected') }]);
    });

    it('account id in the path not a UUID', async () => {
      const res = await post(body, headers, '/accounts/not-a-uuid/transfers');
      expect(res.statusCode).toBe(400);
      expect((problemOf(res).errors as { field: string }[])[0]!.field).toBe('path.accountId');
    });

    it.each([
      ['missing', undefined],
      ['empty', ''],
      ['longer than 255 characters', 'k'.repeat(256)],
    ])('Idempotency-Key %s', async (_name, key) => {
      const h: Record<string, string> = { 'content-type': 'application/json' };
      if (key !== undefined) h['idempotency-key'] = key;
      const res = await post(body, h);
      expect(res.statusCode).toBe(400);
      expect(problemOf(res)).toMatchObject({
        type: 'urn:problem:wallet:invalid-idempotency-key',
        code: 'INVALID_IDEMPOTENCY_KEY',
        errors: [{ field: 'header.idempotency-key', message: expect.any(String) }],
      });
      expect(gw.clients.bank.transferMoney).not.toHaveBeenCalled();
    });

    it('accepts an Idempotency-Key of exactly 255 characters', async () => {
      const res = await post(body, { ...headers, 'idempotency-key': 'k'.repeat(255) });
      expect(res.statusCode).toBe(201);
    });

    it('invalid JSON', async () => {
      const res = await post('{"recipientAccountId": ');
      expect(res.statusCode).toBe(400);
      expect(problemOf(res)).toMatchObject({ type: 'urn:problem:wallet:malformed-body' });
    });

    it('no body at all', async () => {
      const res = await gw.inject({ method: 'POST', url, headers: { 'idempotency-key': 'k' } });
      expect(res.statusCode).toBe(400);
      expect(problemOf(res).status).toBe(400);
    });

    it('a prototype-poisoning body', async () => {
      const res = await post('{"recipientAccountId":"x","amount":"1.00","__proto__":{"admin":true}}');
      expect(res.statusCode).toBe(400);
    });
  });

  it('413 when the body is over the limit', async () => {
    const res = await post(JSON.stringify({ ...body, description: 'x'.repeat(20_000) }));
    expect(res.statusCode).toBe(413);
    expect(problemOf(res)).toMatchObject({ status: 413, type: 'urn:problem:wallet:payload-too-large' });
  });

  it('415 when the body is not JSON', async () => {
    const res = await post('recipient=bob', { 'content-type': 'text/plain', 'idempotency-key': 'k' });
    expect(res.statusCode).toBe(415);
    expect(problemOf(res)).toMatchObject({ status: 415, type: 'urn:problem:wallet:unsupported-media-type' });
    const form = await post('a=b', { 'content-type': 'application/x-www-form-urlencoded', 'idempotency-key': 'k' });
    expect(form.statusCode).toBe(415);
  });

  describe('bank errors, mapped once (status + ErrorInfo reason)', () => {
    const cases: [string, Error, number, string][] = [
      ['unknown sender or recipient', grpcError(GrpcStatus.NOT_FOUND, 'ACCOUNT_NOT_FOUND', `account ${UNKNOWN_ACCOUNT} not found`), 404, 'account-not-found'],
      ['key in flight', grpcError(GrpcStatus.ABORTED, 'IDEMPOTENCY_KEY_IN_FLIGHT'), 409, 'idempotency-key-in-flight'],
      ['insufficient funds', grpcError(GrpcStatus.FAILED_PRECONDITION, 'INSUFFICIENT_FUNDS', 'balance too low'), 422, 'insufficient-funds'],
      ['same account', grpcError(GrpcStatus.FAILED_PRECONDITION, 'SAME_ACCOUNT'), 422, 'same-account'],
      ['currency mismatch', grpcError(GrpcStatus.FAILED_PRECONDITION, 'CURRENCY_MISMATCH'), 422, 'currency-mismatch'],
      ['key reused with another body', grpcError(GrpcStatus.FAILED_PRECONDITION, 'IDEMPOTENCY_KEY_REUSED'), 422, 'idempotency-key-reused'],
      ['amount above a limit the bank was configured with', grpcError(GrpcStatus.INVALID_ARGUMENT, 'INVALID_AMOUNT', 'amount above maximum'), 422, 'amount-out-of-range'],
      ['bank deadline passed before the request ran', grpcError(GrpcStatus.DEADLINE_EXCEEDED, 'DEADLINE_EXCEEDED'), 504, 'upstream-timeout'],
      ['caller cancelled before the request ran', grpcError(GrpcStatus.CANCELLED, 'CANCELLED'), 503, 'service-unavailable'],
      ['reason spelled as the enum name', grpcError(GrpcStatus.FAILED_PRECONDITION, 'ERROR_REASON_INSUFFICIENT_FUNDS'), 422, 'insufficient-funds'],
      ['database down', grpcError(GrpcStatus.UNAVAILABLE, 'STORAGE_UNAVAILABLE'), 503, 'service-unavailable'],
      ['bank unreachable', transportError(GrpcStatus.UNAVAILABLE, 'connect ECONNREFUSED 10.0.0.7:50051'), 503, 'service-unavailable'],
      ['deadline exceeded', transportError(GrpcStatus.DEADLINE_EXCEEDED, 'Deadline exceeded'), 504, 'upstream-timeout'],
      ['unexpected status', transportError(GrpcStatus.INTERNAL, 'stack trace at db.ts:42'), 500, 'internal-error'],
    ];
    it('a replayed business failure answers the first 422 again, marked Idempotent-Replayed', async () => {
      const first = grpcError(GrpcStatus.FAILED_PRECONDITION, 'INSUFFICIENT_FUNDS', 'insufficient funds');
      const replay = grpcError(GrpcStatus.FAILED_PRECONDITION, 'INSUFFICIENT_FUNDS', 'insufficient funds', { replayed: 'true' });
      gw.clients.bank.transferMoney.mockRejectedValueOnce(first).mockRejectedValueOnce(replay);
      const a = await post(body);
      const b = await post(body);
      expect([a.statusCode, b.statusCode]).toEqual([422, 422]);
      expect(a.headers['idempotent-replayed']).toBeUndefined();
      expect(b.headers['idempotent-replayed']).toBe('true');
      const { requestId: _a, ...firstBody } = problemOf(a);
      const { requestId: _b, ...replayBody } = problemOf(b);
      expect(replayBody).toEqual(firstBody);
    });

    it.each(cases)('%s', async (_name, error, status, slug) => {
      gw.clients.bank.transferMoney.mockRejectedValueOnce(error);
      const res = await post(body);
      expect(res.statusCode).toBe(status);
      const problem = problemOf(res);
      expect(problem).toMatchObject({ status, type: `urn:problem:wallet:${slug}`, requestId: res.headers['x-request-id'] });
      if (status === 503) expect(res.headers['retry-after']).toBe('1');
      else expect(res.headers['retry-after']).toBeUndefined();
      if (status >= 500) {
        // Internals (addresses, stack traces) never reach the client.
        expect(problem.detail).not.toMatch(/10\.0\.0\.7|db\.ts/);
      }
    });

    it('carries the reason as `code` and the bank message as detail for 4xx', async () => {
      gw.clients.bank.transferMoney.mockRejectedValueOnce(
        grpcError(GrpcStatus.FAILED_PRECONDITION, 'INSUFFICIENT_FUNDS', 'balance 5.00 is lower than 10.50'),
      );
      const problem = problemOf(await post(body));
      expect(problem).toMatchObject({ code: 'INSUFFICIENT_FUNDS', title: 'Insufficient funds', detail: 'balance 5.00 is lower than 10.50' });
    });

    it('a bank response without a transfer is a 500, not a broken 201', async () => {
      gw.clients.bank.transferMoney.mockResolvedValueOnce({ transfer: undefined, replayed: false });
      const res = await post(body);
      expect(res.statusCode).toBe(500);
      expect(problemOf(res).code).toBe('INTERNAL');
    });
  });
});
