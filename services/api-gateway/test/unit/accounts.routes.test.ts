import { status as GrpcStatus } from '@grpc/grpc-js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  ADMIN_USER,
  ALICE,
  ALICE_USER,
  BOB_USER,
  CREATED_AT,
  createAccountResponse,
  grpcError,
  NEW_ACCOUNT,
  problemOf,
  startTestGateway,
  SUPPORT_USER,
  transportError,
  type TestGateway,
} from '../support/gateway.js';

describe('GET /me', () => {
  let gw: TestGateway;
  beforeEach(async () => {
    gw = await startTestGateway();
  });
  afterEach(async () => {
    await gw.close();
  });

  it('who the caller is (from the verified token) and the accounts the bank says it owns', async () => {
    const token = await gw.issuer.sign({ sub: ALICE_USER, username: 'alice' });
    const res = await gw.inject({ method: 'GET', url: '/me', auth: `Bearer ${token}` });
    expect(res.statusCode).toBe(200);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.json()).toEqual({ userId: ALICE_USER, username: 'alice', roles: ['customer'], accounts: [{ accountId: ALICE, currency: 'USD' }] });
    // The caller's own accounts: no owner named, the bank reads it from the forwarded token.
    expect(gw.clients.bank.listAccounts).toHaveBeenCalledWith({ ownerId: '' }, { requestId: res.headers['x-request-id'], authorization: `Bearer ${token}` });
  });

  it('username from preferred_username (Keycloak), else the subject; roles as the token says', async () => {
    gw.clients.bank.listAccounts.mockResolvedValue({ accounts: [] });
    const keycloak = await gw.issuer.sign({ sub: SUPPORT_USER, roles: ['support'], preferred_username: 'support' });
    expect((await gw.inject({ method: 'GET', url: '/me', auth: `Bearer ${keycloak}` })).json()).toEqual({
      userId: SUPPORT_USER,
      username: 'support',
      roles: ['support'],
      accounts: [],
    });
    const bare = await gw.issuer.sign({ sub: ADMIN_USER, roles: ['admin', 'unknown-role'] });
    expect((await gw.inject({ method: 'GET', url: '/me', auth: `Bearer ${bare}` })).json()).toMatchObject({ username: ADMIN_USER, roles: ['admin'] });
  });

  it('503 + Retry-After when the bank is down', async () => {
    gw.clients.bank.listAccounts.mockRejectedValueOnce(transportError(GrpcStatus.UNAVAILABLE, 'connect ECONNREFUSED'));
    const res = await gw.inject({ method: 'GET', url: '/me' });
    expect(res.statusCode).toBe(503);
    expect(res.headers['retry-after']).toBe('1');
  });
});

describe('POST /accounts', () => {
  let gw: TestGateway;
  beforeEach(async () => {
    gw = await startTestGateway();
  });
  afterEach(async () => {
    await gw.close();
  });

  const headers = { 'content-type': 'application/json', 'idempotency-key': 'open-1' };
  const open = (payload: unknown, auth?: string, extraHeaders: Record<string, string> = headers) =>
    gw.inject({ method: 'POST', url: '/accounts', headers: extraHeaders, payload: payload as string, ...(auth === undefined ? {} : { auth }) });

  it('201 with the opened account (balance "0.00"); the key and currency reach the bank with the caller token', async () => {
    const res = await open({ currency: 'USD' });
    expect(res.statusCode).toBe(201);
    expect(res.json()).toEqual({
      accountId: NEW_ACCOUNT,
      ownerId: ALICE_USER,
      currency: 'USD',
      balance: '0.00',
      available: '0.00',
      pending: '0.00',
      posted: '0.00',
      createdAt: CREATED_AT.toISOString(),
    });
    expect(res.headers['idempotent-replayed']).toBeUndefined();
    const [request, context] = gw.clients.bank.createAccount.mock.calls[0]!;
    expect(request).toEqual({ idempotencyKey: 'open-1', currency: 'USD', ownerId: '' });
    expect(context.authorization).toMatch(/^Bearer ey/);
  });

  it('a replay answers 201 with the same account and Idempotent-Replayed: true', async () => {
    const first = await open({ currency: 'USD' });
    gw.clients.bank.createAccount.mockImplementationOnce(async (request) => createAccountResponse(request, true));
    const replay = await open({ currency: 'USD' });
    expect(replay.statusCode).toBe(201);
    expect(replay.json()).toEqual(first.json());
    expect(replay.headers['idempotent-replayed']).toBe('true');
  });

  it('admin may open an account for another owner', async () => {
    const res = await open({ currency: 'USD', ownerId: BOB_USER }, await gw.bearer(ADMIN_USER, ['admin']));
    expect(res.statusCode).toBe(201);
    expect(res.json()).toMatchObject({ ownerId: BOB_USER });
    expect(gw.clients.bank.createAccount.mock.calls[0]![0]).toMatchObject({ ownerId: BOB_USER });
  });

  it('a customer naming another owner: 403 forbidden, the bank is not asked; naming itself is fine', async () => {
    const alice = await gw.bearer(ALICE_USER);
    const res = await open({ currency: 'USD', ownerId: BOB_USER }, alice);
    expect(res.statusCode).toBe(403);
    expect(problemOf(res)).toMatchObject({ type: 'urn:problem:wallet:forbidden', code: 'FORBIDDEN' });
    expect(gw.clients.bank.createAccount).not.toHaveBeenCalled();
    expect((await open({ currency: 'USD', ownerId: ALICE_USER }, alice)).statusCode).toBe(201);
  });

  it.each([
    ['missing currency', {}, 'body.currency'],
    ['another currency', { currency: 'EUR' }, 'body.currency'],
    ['lower-case currency', { currency: 'usd' }, 'body.currency'],
    ['unknown field', { currency: 'USD', balance: '100.00' }, 'body.balance'],
    ['empty ownerId', { currency: 'USD', ownerId: '' }, 'body.ownerId'],
    ['ownerId over 255 characters', { currency: 'USD', ownerId: 'x'.repeat(256) }, 'body.ownerId'],
  ])('400 %s', async (_name, payload, field) => {
    const res = await open(payload);
    expect(res.statusCode).toBe(400);
    expect((problemOf(res).errors as { field: string }[]).map((e) => e.field)).toContain(field);
    expect(gw.clients.bank.createAccount).not.toHaveBeenCalled();
  });

  it('400 without an Idempotency-Key', async () => {
    const res = await open({ currency: 'USD' }, undefined, { 'content-type': 'application/json' });
    expect(res.statusCode).toBe(400);
    expect(problemOf(res)).toMatchObject({ type: 'urn:problem:wallet:invalid-idempotency-key' });
  });

  it('maps the bank: key in flight 409, key reused 422, role refused 403', async () => {
    gw.clients.bank.createAccount.mockRejectedValueOnce(grpcError(GrpcStatus.ABORTED, 'IDEMPOTENCY_KEY_IN_FLIGHT'));
    expect((await open({ currency: 'USD' })).statusCode).toBe(409);
    gw.clients.bank.createAccount.mockRejectedValueOnce(grpcError(GrpcStatus.FAILED_PRECONDITION, 'IDEMPOTENCY_KEY_REUSED'));
    expect((await open({ currency: 'USD' })).statusCode).toBe(422);
    gw.clients.bank.createAccount.mockRejectedValueOnce(grpcError(GrpcStatus.PERMISSION_DENIED, 'ROLE_FORBIDDEN'));
    expect((await open({ currency: 'USD' })).statusCode).toBe(403);
  });
});
