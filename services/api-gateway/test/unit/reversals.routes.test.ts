// POST /transfers/{id}/reverse, GET /transfers/{id}/reversals and GET /admin/ledger/verify (issue #15 F3)
// against a fake bank: request mapping, answers per openapi.yaml (checked by
// the contract validator on every inject), bank reasons as problem+json.
import { status as GrpcStatus } from '@grpc/grpc-js';
import type { ReverseTransferRequest } from '@wallet/contracts/bank';
import { richError } from '@wallet/platform';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ADMIN_USER, ALICE, ALICE_USER, BOB, CREATED_AT, grpcError, problemOf, startTestGateway, type TestGateway } from '../support/gateway.js';

const TRANSFER = 'b1a7c0de-0000-4000-8000-000000000001';
const REVERSAL = 'e7e7c0de-0000-4000-8000-000000000003';
const url = `/transfers/${TRANSFER}/reverse`;

function reversalResponse(request: ReverseTransferRequest, replayed = false) {
  const amount = request.amount ?? { amountMinor: 1050n, currencyCode: 'USD' };
  return {
    reversal: {
      id: REVERSAL,
      originalTransferId: request.transferId,
      fromAccountId: BOB,
      toAccountId: ALICE,
      amount,
      reason: request.reason,
      forced: request.force,
      createdAt: CREATED_AT,
      initiatedBy: ALICE_USER,
      remaining: { amountMinor: 1050n - amount.amountMinor, currencyCode: 'USD' },
    },
    replayed,
  };
}

describe('POST /transfers/{transferId}/reverse', () => {
  let gw: TestGateway;
  let auth: string;
  beforeEach(async () => {
    gw = await startTestGateway();
    auth = await gw.bearer(ALICE_USER);
    gw.clients.bank.reverseTransfer.mockImplementation(async (request) => reversalResponse(request));
  });
  afterEach(async () => {
    await gw.close();
  });

  const post = (payload: unknown, key = 'rev-1', path = url) =>
    gw.inject({ method: 'POST', url: path, headers: { 'content-type': 'application/json', 'idempotency-key': key }, payload: payload as string, auth });

  it('reverses part of a transfer: 201 Reversal, amount in minor units, the token forwarded', async () => {
    const res = await post({ amount: '2.50', reason: 'Charged twice' });
    expect(res.statusCode).toBe(201);
    expect(res.json()).toEqual({
      id: REVERSAL,
      originalTransferId: TRANSFER,
      fromAccountId: BOB,
      toAccountId: ALICE,
      amount: '2.50',
      currency: 'USD',
      reason: 'Charged twice',
      forced: false,
      remaining: '8.00',
      createdAt: CREATED_AT.toISOString(),
      initiatedBy: ALICE_USER,
    });
    const [request, context] = gw.clients.bank.reverseTransfer.mock.calls[0]!;
    expect(request).toEqual({ transferId: TRANSFER, amount: { amountMinor: 250n, currencyCode: 'USD' }, reason: 'Charged twice', idempotencyKey: 'rev-1', force: false });
    expect(context.authorization).toBe(auth);
  });

  it('without an amount reverses what remains; force is passed on; a replay says so', async () => {
    gw.clients.bank.reverseTransfer.mockImplementationOnce(async (request) => reversalResponse(request, true));
    const res = await post({ reason: 'Fraud', force: true }, 'rev-2', `/transfers/${TRANSFER.toUpperCase()}/reverse`);
    expect(res.statusCode).toBe(201);
    expect(res.headers['idempotent-replayed']).toBe('true');
    const [request] = gw.clients.bank.reverseTransfer.mock.calls[0]!;
    expect(request).toMatchObject({ transferId: TRANSFER, amount: undefined, force: true });
  });

  it.each([
    ['no reason', { amount: '1.00' }],
    ['an empty reason', { reason: '' }],
    ['a reason over 140 characters', { reason: 'x'.repeat(141) }],
    ['a number amount', { amount: 1, reason: 'r' }],
    ['a zero amount', { amount: '0.00', reason: 'r' }],
    ['force not a boolean', { reason: 'r', force: 'yes' }],
    ['an unknown field', { reason: 'r', extra: 1 }],
  ])('400 for %s, and the bank is not called', async (_name, payload) => {
    const res = await post(payload);
    expect(res.statusCode).toBe(400);
    expect(gw.clients.bank.reverseTransfer).not.toHaveBeenCalled();
  });

  it('400 for a transfer id that is not a UUID', async () => {
    expect((await post({ reason: 'r' }, 'k', '/transfers/nope/reverse')).statusCode).toBe(400);
  });

  it.each([
    [GrpcStatus.FAILED_PRECONDITION, 'REVERSAL_WOULD_OVERDRAW', { accountId: BOB }, 422, 'reversal-would-overdraw'],
    [GrpcStatus.FAILED_PRECONDITION, 'REVERSAL_EXCEEDS_REMAINING', { transferId: TRANSFER, remaining: '1.00' }, 422, 'reversal-exceeds-remaining'],
    [GrpcStatus.NOT_FOUND, 'TRANSFER_NOT_FOUND', { transferId: TRANSFER }, 404, 'transfer-not-found'],
    [GrpcStatus.PERMISSION_DENIED, 'ROLE_FORBIDDEN', { action: 'force a reversal' }, 403, 'forbidden'],
  ])('maps %s %s to %s', async (code, reason, metadata, status, slug) => {
    gw.clients.bank.reverseTransfer.mockRejectedValueOnce(grpcError(code, reason, reason.toLowerCase(), metadata));
    const res = await post({ reason: 'r' });
    expect(res.statusCode).toBe(status);
    expect(String(problemOf(res).type)).toContain(slug);
  });

  it('401 without a token', async () => {
    const res = await gw.inject({ method: 'POST', url, headers: { 'content-type': 'application/json', 'idempotency-key': 'k' }, payload: { reason: 'r' }, auth: false });
    expect(res.statusCode).toBe(401);
  });
});

describe('GET /transfers/{transferId}/reversals', () => {
  let gw: TestGateway;
  let auth: string;
  beforeEach(async () => {
    gw = await startTestGateway();
    auth = await gw.bearer(ALICE_USER);
  });
  afterEach(async () => {
    await gw.close();
  });

  const page = (nextPageToken: string) => ({
    transferId: TRANSFER,
    amount: { amountMinor: 1050n, currencyCode: 'USD' },
    reversed: { amountMinor: 250n, currencyCode: 'USD' },
    remaining: { amountMinor: 800n, currencyCode: 'USD' },
    reversals: [reversalResponse({ transferId: TRANSFER, amount: { amountMinor: 250n, currencyCode: 'USD' }, reason: 'Charged twice', idempotencyKey: 'k', force: false }).reversal],
    nextPageToken,
  });

  it('200 ReversalPage: the transfer\'s amount, reversed, remaining, the reversals and the next cursor; the token forwarded', async () => {
    gw.clients.bank.listReversals.mockResolvedValueOnce(page(REVERSAL));
    const res = await gw.inject({ method: 'GET', url: `/transfers/${TRANSFER.toUpperCase()}/reversals?limit=1`, auth });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({
      transferId: TRANSFER,
      amount: '10.50',
      reversed: '2.50',
      remaining: '8.00',
      currency: 'USD',
      items: [expect.objectContaining({ id: REVERSAL, amount: '2.50', remaining: '8.00', reason: 'Charged twice' })],
      nextCursor: REVERSAL,
    });
    const [request, context] = gw.clients.bank.listReversals.mock.calls[0]!;
    expect(request).toEqual({ transferId: TRANSFER, pageSize: 1, pageToken: '' });
    expect(context.authorization).toBe(auth);
  });

  it('passes the cursor on; the last page has nextCursor null', async () => {
    gw.clients.bank.listReversals.mockResolvedValueOnce(page(''));
    const res = await gw.inject({ method: 'GET', url: `/transfers/${TRANSFER}/reversals?cursor=${REVERSAL}`, auth });
    expect(res.json()).toMatchObject({ nextCursor: null });
    expect(gw.clients.bank.listReversals.mock.calls[0]![0]).toEqual({ transferId: TRANSFER, pageSize: 100, pageToken: REVERSAL });
  });

  it('400 for a bad id or limit before the bank is asked; 404 and 422 invalid-cursor from the bank', async () => {
    for (const url of ['/transfers/nope/reversals', `/transfers/${TRANSFER}/reversals?limit=0`, `/transfers/${TRANSFER}/reversals?limit=101`]) {
      expect((await gw.inject({ method: 'GET', url, auth })).statusCode).toBe(400);
    }
    expect(gw.clients.bank.listReversals).not.toHaveBeenCalled();
    gw.clients.bank.listReversals.mockRejectedValueOnce(grpcError(GrpcStatus.NOT_FOUND, 'TRANSFER_NOT_FOUND', 'transfer not found', { transferId: TRANSFER }));
    const missing = await gw.inject({ method: 'GET', url: `/transfers/${TRANSFER}/reversals`, auth });
    expect(missing.statusCode).toBe(404);
    expect(String(problemOf(missing).type)).toContain('transfer-not-found');
    gw.clients.bank.listReversals.mockRejectedValueOnce(
      richError({ code: GrpcStatus.INVALID_ARGUMENT, reason: 'INVALID_ARGUMENT', message: 'bad token', domain: 'test.wallet', fieldViolations: [{ field: 'page_token', description: 'is not a page token' }] }),
    );
    const foreign = await gw.inject({ method: 'GET', url: `/transfers/${TRANSFER}/reversals?cursor=abc`, auth });
    expect(foreign.statusCode).toBe(422);
    expect(String(problemOf(foreign).type)).toContain('invalid-cursor');
  });
});

describe('GET /admin/ledger/verify', () => {
  let gw: TestGateway;
  beforeEach(async () => {
    gw = await startTestGateway();
  });
  afterEach(async () => {
    await gw.close();
  });

  it('admin: the bank\'s verdict, the first break and where to continue', async () => {
    gw.clients.bank.verifyLedger.mockResolvedValueOnce({
      ok: false,
      accountsChecked: 3n,
      entriesChecked: 120n,
      firstBreak: { accountId: BOB, entryId: 9_007_199_254_740_993n, reason: 'hash mismatch' },
      nextAfterAccountId: BOB,
    });
    const res = await gw.inject({ method: 'GET', url: `/admin/ledger/verify?after=${ALICE}&limit=10`, auth: await gw.bearer(ADMIN_USER, ['admin']) });
    expect(res.statusCode).toBe(200);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.json()).toEqual({
      ok: false,
      accountsChecked: 3,
      entriesChecked: 120,
      firstBreak: { accountId: BOB, entryId: '9007199254740993', reason: 'hash mismatch' },
      next: BOB,
    });
    expect(gw.clients.bank.verifyLedger.mock.calls[0]![0]).toEqual({ accountId: '', afterAccountId: ALICE, accountsMax: 10 });
  });

  it('an intact ledger: ok, no break, no next', async () => {
    gw.clients.bank.verifyLedger.mockResolvedValueOnce({ ok: true, accountsChecked: 1n, entriesChecked: 4n, firstBreak: undefined, nextAfterAccountId: '' });
    const res = await gw.inject({ method: 'GET', url: `/admin/ledger/verify?accountId=${ALICE}`, auth: await gw.bearer(ADMIN_USER, ['admin']) });
    expect(res.json()).toEqual({ ok: true, accountsChecked: 1, entriesChecked: 4 });
    expect(gw.clients.bank.verifyLedger.mock.calls[0]![0]).toEqual({ accountId: ALICE, afterAccountId: '', accountsMax: 0 });
  });

  it('403 for customer and support, before the bank is asked; 400 for a bad limit', async () => {
    for (const roles of [['customer'], ['support']] as const) {
      const res = await gw.inject({ method: 'GET', url: '/admin/ledger/verify', auth: await gw.bearer(ALICE_USER, roles) });
      expect(res.statusCode).toBe(403);
    }
    const bad = await gw.inject({ method: 'GET', url: '/admin/ledger/verify?limit=0', auth: await gw.bearer(ADMIN_USER, ['admin']) });
    expect(bad.statusCode).toBe(400);
    expect(gw.clients.bank.verifyLedger).not.toHaveBeenCalled();
  });
});
