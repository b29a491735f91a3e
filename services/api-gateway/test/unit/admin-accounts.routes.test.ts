import { freePort } from '@wallet/testkit';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ALICE, ALICE_USER, problemOf, startTestGateway, SUPPORT_USER, type TestGateway } from '../support/gateway.js';

// GET /admin/accounts?owner=: the real identity users client against a loopback
// stand-in of the identity-service's GET /users?username=, the bank faked as elsewhere.

type Answer = (request: IncomingMessage, response: ServerResponse) => void;

async function startFakeIdentity(answer: Answer): Promise<{ url: string; seen: IncomingMessage[]; close(): Promise<void> }> {
  const seen: IncomingMessage[] = [];
  const server: Server = createServer((request, response) => {
    seen.push(request);
    answer(request, response);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

const ALICE_IDENTITY = { userId: ALICE_USER, username: 'alice', roles: ['customer'] };

const identityAnswer: Answer = (request, response) => {
  const username = new URL(request.url ?? '/', 'http://x').searchParams.get('username');
  if (username === 'alice') {
    response.writeHead(200, { 'content-type': 'application/json' });
    return response.end(JSON.stringify(ALICE_IDENTITY));
  }
  response.writeHead(404, { 'content-type': 'application/problem+json' });
  return response.end(JSON.stringify({ type: 'urn:problem:wallet:user-not-found', title: 'User not found', status: 404, detail: 'none' }));
};

describe('GET /admin/accounts?owner=<username>', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    while (cleanups.length > 0) await cleanups.pop()!();
  });

  async function setUp(identityUrl?: string): Promise<{ gw: TestGateway; seen: IncomingMessage[] }> {
    const identity = await startFakeIdentity(identityAnswer);
    const gw = await startTestGateway({ config: { GATEWAY_IDENTITY_URL: identityUrl ?? identity.url } });
    cleanups.push(() => identity.close(), () => gw.close());
    return { gw, seen: identity.seen };
  }

  it('support finds alice\'s accounts: the username through the identity-service with the caller\'s token, the accounts from the bank', async () => {
    const { gw, seen } = await setUp();
    const bearer = await gw.bearer(SUPPORT_USER, ['support']);
    const res = await gw.inject({ method: 'GET', url: '/admin/accounts?owner=alice', auth: bearer });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({
      owner: ALICE_IDENTITY,
      accounts: [
        {
          accountId: ALICE,
          ownerId: ALICE_USER,
          currency: 'USD',
          balance: '1000.00',
          available: '1000.00',
          pending: '0.00',
          posted: '1000.00',
          createdAt: '2025-01-02T03:04:05.678Z',
        },
      ],
    });
    expect(seen[0]?.headers.authorization).toBe(bearer);
    expect(gw.clients.bank.listAccounts).toHaveBeenCalledWith({ ownerId: ALICE_USER }, expect.objectContaining({ authorization: bearer }));
  });

  it('an unknown username is 404 user-not-found; a customer is 403 and no lookup happens', async () => {
    const { gw, seen } = await setUp();
    const unknown = await gw.inject({ method: 'GET', url: '/admin/accounts?owner=nobody', auth: await gw.bearer(SUPPORT_USER, ['support']) });
    expect(unknown.statusCode).toBe(404);
    expect(problemOf(unknown)).toMatchObject({ code: 'USER_NOT_FOUND' });
    const before = seen.length;
    const customer = await gw.inject({ method: 'GET', url: '/admin/accounts?owner=alice', auth: await gw.bearer(ALICE_USER, ['customer']) });
    expect(customer.statusCode).toBe(403);
    expect(seen.length).toBe(before);
    expect((await gw.inject({ method: 'GET', url: '/admin/accounts', auth: await gw.bearer(SUPPORT_USER, ['support']) })).statusCode).toBe(400);
  });

  it('the identity-service unreachable is 503 with Retry-After, not a 500', async () => {
    const { gw } = await setUp(`http://127.0.0.1:${await freePort()}`);
    const res = await gw.inject({ method: 'GET', url: '/admin/accounts?owner=alice', auth: await gw.bearer(SUPPORT_USER, ['support']) });
    expect(res.statusCode).toBe(503);
    expect(res.headers['retry-after']).toBeDefined();
  });
});
