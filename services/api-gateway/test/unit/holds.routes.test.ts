// Holds (issue #15 F1) against a fake bank: request mapping, answers per
// openapi.yaml (checked by the contract validator on every inject), bank
// reasons as problem+json (409 hold-not-pending with holdStatus).
import { status as GrpcStatus } from '@grpc/grpc-js';
import { HoldStatus, TransferStatus, type Hold } from '@wallet/contracts/bank';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ALICE, ALICE_USER, BOB, CREATED_AT, grpcError, problemOf, startTestGateway, type TestGateway } from '../support/gateway.js';

const HOLD = 'a01dc0de-0000-4000-8000-000000000001';
const TRANSFER = 'b1a7c0de-0000-4000-8000-000000000002';
const EXPIRES_AT = new Date('2026-12-09T12:00:00.000Z');

function hold(overrides: Partial<Hold> = {}): Hold {
  return {
    id: HOLD,
    senderAccountId: ALICE,
    recipientAccountId: BOB,
    amount: { amountMinor: 12_000n, currencyCode: 'USD' },
    status: HoldStatus.HOLD_STATUS_PENDING,
    capturedAmount: undefined,
    transferId: '',
    description: 'Hotel',
    createdAt: CREATED_AT,
    expiresAt: EXPIRES_AT,
    finalizedAt: undefined,
    initiatedBy: ALICE_USER,
    ...overrides,
  };
}

const captured = (amountMinor: bigint) =>
  hold({ status: HoldStatus.HOLD_STATUS_CAPTURED, capturedAmount: { amountMinor, currencyCode: 'USD' }, transferId: TRANSFER, finalizedAt: EXPIRES_AT });

const transfer = (amountMinor: bigint) => ({
  id: TRANSFER,
  senderAccountId: ALICE,
  recipientAccountId: BOB,
  amount: { amountMinor, currencyCode: 'USD' },
  status: TransferStatus.TRANSFER_STATUS_COMPLETED,
  description: 'Hotel',
  createdAt: EXPIRES_AT,
  initiatedBy: ALICE_USER,
});

describe('holds routes', () => {
  let gw: TestGateway;
  let auth: string;
  beforeEach(async () => {
    gw = await startTestGateway();
    auth = await gw.bearer(ALICE_USER);
  });
  afterEach(async () => {
    await gw.close();
  });

  const post = (url: string, payload?: unknown, headers: Record<string, string> = {}) =>
    gw.inject({
      method: 'POST',
      url,
      headers: payload === undefined ? headers : { 'content-type': 'application/json', ...headers },
      ...(payload === undefined ? {} : { payload: payload as string }),
      auth,
    });

  it('POST /accounts/{id}/holds: 201 pending hold, amount in minor units, expiry and key passed on, token forwarded', async () => {
    gw.clients.bank.createHold.mockResolvedValueOnce({ hold: hold(), replayed: false });
    const res = await post(`/accounts/${ALICE}/holds`, { recipientAccountId: BOB, amount: '120.00', expiresAt: '2026-12-09T12:00:00Z', description: 'Hotel' }, { 'idempotency-key': 'h-1' });
    expect(res.statusCode).toBe(201);
    expect(res.json()).toEqual({
      id: HOLD,
      status: 'pending',
      senderAccountId: ALICE,
      recipientAccountId: BOB,
      amount: '120.00',
      currency: 'USD',
      description: 'Hotel',
      createdAt: CREATED_AT.toISOString(),
      expiresAt: EXPIRES_AT.toISOString(),
      initiatedBy: ALICE_USER,
    });
    const [request, context] = gw.clients.bank.createHold.mock.calls[0]!;
    expect(request).toEqual({
      senderAccountId: ALICE,
      recipientAccountId: BOB,
      amount: { amountMinor: 12_000n, currencyCode: 'USD' },
      idempotencyKey: 'h-1',
      description: 'Hotel',
      expiresAt: EXPIRES_AT,
    });
    expect(context.authorization).toBe(auth);
  });

  it('a replayed hold says so; no expiry means the bank default', async () => {
    gw.clients.bank.createHold.mockResolvedValueOnce({ hold: hold(), replayed: true });
    const res = await post(`/accounts/${ALICE}/holds`, { recipientAccountId: BOB, amount: '1.00' }, { 'idempotency-key': 'h-2' });
    expect(res.statusCode).toBe(201);
    expect(res.headers['idempotent-replayed']).toBe('true');
    expect(gw.clients.bank.createHold.mock.calls[0]![0].expiresAt).toBeUndefined();
  });

  it.each([
    ['no amount', { recipientAccountId: BOB }],
    ['a zero amount', { recipientAccountId: BOB, amount: '0.00' }],
    ['a number amount', { recipientAccountId: BOB, amount: 1 }],
    ['an expiry that is not a date-time', { recipientAccountId: BOB, amount: '1.00', expiresAt: 'tomorrow' }],
    ['an unknown field', { recipientAccountId: BOB, amount: '1.00', extra: true }],
  ])('400 for %s, and the bank is not called', async (_name, payload) => {
    const res = await post(`/accounts/${ALICE}/holds`, payload, { 'idempotency-key': 'h-3' });
    expect(res.statusCode).toBe(400);
    expect(gw.clients.bank.createHold).not.toHaveBeenCalled();
  });

  it('400 without an Idempotency-Key', async () => {
    expect((await post(`/accounts/${ALICE}/holds`, { recipientAccountId: BOB, amount: '1.00' })).statusCode).toBe(400);
  });

  it('POST /holds/{id}/capture with an amount: 200 {hold, transfer}', async () => {
    gw.clients.bank.captureHold.mockResolvedValueOnce({ hold: captured(9_540n), transfer: transfer(9_540n), replayed: false });
    const res = await post(`/holds/${HOLD.toUpperCase()}/capture`, { amount: '95.40' });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.hold).toMatchObject({ status: 'captured', capturedAmount: '95.40', transferId: TRANSFER, finalizedAt: EXPIRES_AT.toISOString() });
    expect(body.transfer).toMatchObject({ id: TRANSFER, amount: '95.40', status: 'completed' });
    expect(gw.clients.bank.captureHold.mock.calls[0]![0]).toEqual({ holdId: HOLD, amount: { amountMinor: 9_540n, currencyCode: 'USD' } });
  });

  it('capture without a body captures all of it; a replay says so', async () => {
    gw.clients.bank.captureHold.mockResolvedValueOnce({ hold: captured(12_000n), transfer: transfer(12_000n), replayed: true });
    const res = await post(`/holds/${HOLD}/capture`);
    expect(res.statusCode).toBe(200);
    expect(res.headers['idempotent-replayed']).toBe('true');
    expect(gw.clients.bank.captureHold.mock.calls[0]![0]).toEqual({ holdId: HOLD, amount: undefined });
  });

  it('POST /holds/{id}/void and GET /holds/{id}', async () => {
    const voided = hold({ status: HoldStatus.HOLD_STATUS_VOIDED, finalizedAt: EXPIRES_AT });
    gw.clients.bank.voidHold.mockResolvedValueOnce({ hold: voided, replayed: false });
    const res = await post(`/holds/${HOLD}/void`);
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ id: HOLD, status: 'voided' });
    gw.clients.bank.getHold.mockResolvedValueOnce({ hold: voided });
    const read = await gw.inject({ method: 'GET', url: `/holds/${HOLD}`, auth });
    expect(read.statusCode).toBe(200);
    expect(read.json()).toMatchObject({ status: 'voided', finalizedAt: EXPIRES_AT.toISOString() });
  });

  it.each([
    ['capture', GrpcStatus.FAILED_PRECONDITION, 'HOLD_NOT_PENDING', { holdId: HOLD, status: 'voided' }, 409, 'hold-not-pending'],
    ['void', GrpcStatus.FAILED_PRECONDITION, 'HOLD_NOT_PENDING', { holdId: HOLD, status: 'captured' }, 409, 'hold-not-pending'],
    ['capture', GrpcStatus.INVALID_ARGUMENT, 'CAPTURE_EXCEEDS_HOLD', { holdId: HOLD, heldAmount: '120.00 USD' }, 422, 'capture-exceeds-hold'],
    ['void', GrpcStatus.NOT_FOUND, 'HOLD_NOT_FOUND', { holdId: HOLD }, 404, 'hold-not-found'],
    ['capture', GrpcStatus.PERMISSION_DENIED, 'ROLE_FORBIDDEN', { action: 'capture' }, 403, 'forbidden'],
  ] as const)('%s: maps %s %s to %s', async (action, code, reason, metadata, status, slug) => {
    const fake = action === 'capture' ? gw.clients.bank.captureHold : gw.clients.bank.voidHold;
    fake.mockRejectedValueOnce(grpcError(code, reason, reason.toLowerCase(), metadata));
    const res = await post(`/holds/${HOLD}/${action}`);
    expect(res.statusCode).toBe(status);
    const problem = problemOf(res);
    expect(String(problem.type)).toContain(slug);
    if (reason === 'HOLD_NOT_PENDING') expect(problem.holdStatus).toBe(metadata.status);
  });

  it('maps a limit refusal of a new hold to 422 limit-exceeded with the limit and what remains', async () => {
    gw.clients.bank.createHold.mockRejectedValueOnce(
      grpcError(GrpcStatus.FAILED_PRECONDITION, 'LIMIT_EXCEEDED', 'limit', { accountId: ALICE, limit: 'daily', remaining: '20.00' }),
    );
    const res = await post(`/accounts/${ALICE}/holds`, { recipientAccountId: BOB, amount: '50.00' }, { 'idempotency-key': 'h-4' });
    expect(res.statusCode).toBe(422);
    expect(problemOf(res)).toMatchObject({ limit: 'daily', remaining: '20.00' });
  });

  it('400 for a hold id that is not a UUID; 401 without a token', async () => {
    expect((await post('/holds/nope/void')).statusCode).toBe(400);
    const res = await gw.inject({ method: 'GET', url: `/holds/${HOLD}`, auth: false });
    expect(res.statusCode).toBe(401);
  });
});
