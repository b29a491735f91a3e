import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { testPki, testTlsEnv } from '../../../../test/support/pki.js';
import { startTestIssuer } from '../../../../test/support/test-issuer.js';
import { buildServer } from '../../src/server.js';
import { ALICE, ALICE_USER, fakeClients, problemOf, testConfig } from '../support/gateway.js';

// The identity-service serves HTTPS with its service certificate (internal CA):
// the gateway verifies it with TLS_CA_FILE for token verification (discovery,
// JWKS) and for the /auth/* proxy; without that CA it trusts neither.

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

const TOKEN_RESPONSE = { access_token: 'a.b.c', token_type: 'Bearer', expires_in: 900 };

/** An identity-service stand-in on HTTPS with the identity-service certificate of the test PKI. */
async function startHttpsIdentity(): Promise<{ url: string; calls: number }> {
  const env = await testTlsEnv('identity-service');
  const state = { url: '', calls: 0 };
  const server: Server = createServer({ cert: readFileSync(env.TLS_CERT_FILE), key: readFileSync(env.TLS_KEY_FILE) }, (request, response) => {
    request.resume();
    request.on('end', () => {
      state.calls += 1;
      response.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      response.end(JSON.stringify(TOKEN_RESPONSE));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise<void>((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  }));
  state.url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return state;
}

async function gateway(internalCa: Buffer | undefined) {
  const issuer = await startTestIssuer({ tls: true });
  const identity = await startHttpsIdentity();
  const app = await buildServer({
    config: testConfig({ AUTH_ISSUER: issuer.issuer, AUTH_AUDIENCE: issuer.audience, GATEWAY_IDENTITY_URL: identity.url }),
    clients: fakeClients(),
    logger: pino({ level: 'silent' }),
    ...(internalCa ? { internalCa } : {}),
  });
  cleanups.push(() => issuer.close(), () => app.close());
  const token = () =>
    app.inject({
      method: 'POST',
      url: '/auth/token',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: 'grant_type=password&username=alice&password=pw&client_id=wallet-cli',
    });
  const balance = async () =>
    app.inject({ method: 'GET', url: `/accounts/${ALICE}/balance`, headers: { authorization: await issuer.bearer(ALICE_USER) } });
  return { identity, token, balance };
}

describe('identity-service over HTTPS with the internal CA', () => {
  it('with TLS_CA_FILE: tokens verify through https discovery/JWKS and /auth/* is forwarded over https', async () => {
    const gw = await gateway(readFileSync((await testPki()).caFile));
    const balance = await gw.balance();
    expect(balance.statusCode).toBe(200);
    expect(balance.json()).toMatchObject({ accountId: ALICE });
    const token = await gw.token();
    expect(token.statusCode).toBe(200);
    expect(token.json()).toEqual(TOKEN_RESPONSE);
    expect(gw.identity.calls).toBe(1);
  });

  it('without the internal CA: the identity-service is not trusted (no token accepted, /auth/* unavailable)', async () => {
    const gw = await gateway(undefined);
    const balance = await gw.balance();
    expect(balance.statusCode).not.toBe(200);
    expect(balance.body).not.toContain('"balance"');
    const token = await gw.token();
    expect(token.statusCode).toBe(503);
    expect(problemOf(token)).toMatchObject({ status: 503 });
    expect(gw.identity.calls).toBe(0);
  });
});
