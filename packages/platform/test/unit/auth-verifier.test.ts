import { createPublicKey } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { base64url, SignJWT } from 'jose';
import { waitFor } from '@wallet/testkit';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestIssuer, type TestIssuer } from '../../../../test/support/test-issuer.js';
import {
  AccessTokenError,
  createTokenVerifier,
  moveAccess,
  parseBearer,
  readAccess,
  rolesFromClaims,
  type Principal,
  type TokenVerifier,
} from '../../src/auth/index.js';

let issuer: TestIssuer;
let verifier: TokenVerifier;

beforeAll(async () => {
  issuer = await startTestIssuer();
  verifier = createTokenVerifier({ issuer: issuer.issuer, audience: issuer.audience, jwksCooldownMs: 0 });
});
afterAll(() => issuer.close());

async function refusal(token: string, using: TokenVerifier = verifier): Promise<AccessTokenError> {
  const error: unknown = await using.verify(token).then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(AccessTokenError);
  return error as AccessTokenError;
}

function unsigned(header: object, payload: object, signature = ''): string {
  const part = (value: object): string => base64url.encode(JSON.stringify(value));
  return `${part(header)}.${part(payload)}.${signature}`;
}

describe('token verifier (discovery + JWKS)', () => {
  it('accepts a token of the issuer and reads subject, roles, username and jti', async () => {
    const principal = await verifier.verify(await issuer.sign({ sub: 'user-1', roles: ['support'], username: 'sam' }));
    expect(principal).toMatchObject({ subject: 'user-1', roles: ['support'], username: 'sam' });
    expect(principal.tokenId).toMatch(/^[0-9a-f-]{36}$/);
  });

  it.each([
    ['expired', { expiresInSeconds: -120 }, 'expired'],
    ['from another issuer', { issuer: 'http://127.0.0.1:1/other' }, '"iss"'],
    ['for another audience', { audience: 'someone-else' }, '"aud"'],
  ])('refuses a token %s as invalid_token', async (_name, claims, text) => {
    const error = await refusal(await issuer.sign({ sub: 'user-1', ...claims }));
    expect(error.code).toBe('invalid_token');
    expect(error.description).toContain(text);
  });

  it('refuses alg "none" and garbage', async () => {
    const now = Math.floor(Date.now() / 1000);
    const none = unsigned({ alg: 'none', typ: 'JWT' }, { iss: issuer.issuer, aud: issuer.audience, sub: 'x', iat: now, exp: now + 60 });
    expect((await refusal(none)).code).toBe('invalid_token');
    expect((await refusal('not.a.jwt')).code).toBe('invalid_token');
  });

  it('refuses HS256 signed with the public key as the HMAC secret (algorithm confusion)', async () => {
    const jwks = (await (await fetch(`${issuer.issuer}/jwks`)).json()) as { keys: object[] };
    const pem = createPublicKey({ key: jwks.keys[0] as never, format: 'jwk' }).export({ type: 'spki', format: 'pem' });
    const now = Math.floor(Date.now() / 1000);
    const forged = await new SignJWT({ roles: ['admin'] })
      .setProtectedHeader({ alg: 'HS256', kid: 'test-key-0' })
      .setIssuer(issuer.issuer)
      .setAudience(issuer.audience)
      .setSubject('attacker')
      .setIssuedAt(now)
      .setExpirationTime(now + 60)
      .sign(new TextEncoder().encode(String(pem)));
    expect((await refusal(forged)).code).toBe('invalid_token');
  });

  it('honours key rotation: a token signed by a new key verifies without a restart', async () => {
    const before = await issuer.sign({ sub: 'user-1' });
    await verifier.verify(before);
    await issuer.rotate();
    const after = await issuer.sign({ sub: 'user-1' });
    await expect(verifier.verify(after)).resolves.toMatchObject({ subject: 'user-1' });
    await expect(verifier.verify(before)).resolves.toMatchObject({ subject: 'user-1' });
  });

  it('refuses a token whose key was withdrawn from the JWKS', async () => {
    const old = await issuer.sign({ sub: 'user-1' });
    await issuer.rotate({ dropPrevious: true });
    const fresh = createTokenVerifier({ issuer: issuer.issuer, audience: issuer.audience });
    expect((await refusal(old, fresh)).code).toBe('invalid_token');
  });

  // jwksCacheMaxAgeMs 0 makes jose refetch the key set on every signature check, so fetches count checks.
  const checking = (extra: object): TokenVerifier =>
    createTokenVerifier({ issuer: issuer.issuer, audience: issuer.audience, jwksCacheMaxAgeMs: 0, jwksCooldownMs: 0, clockToleranceSeconds: 0, ...extra });

  it('remembers a verified token: the next call with it checks no signature', async () => {
    const cached = checking({ verifiedCacheTtlMs: 60_000 });
    const token = await issuer.sign({ sub: 'user-cached' });
    await cached.verify(token);
    const fetches = issuer.jwksFetches;
    await issuer.rotate({ dropPrevious: true });
    await expect(cached.verify(token)).resolves.toMatchObject({ subject: 'user-cached' });
    expect(issuer.jwksFetches).toBe(fetches);
  });

  it('forgets a verified token after the TTL and at its expiry, whichever is first', async () => {
    const shortTtl = checking({ verifiedCacheTtlMs: 100 });
    const token = await issuer.sign({ sub: 'user-ttl' });
    await shortTtl.verify(token);
    await issuer.rotate({ dropPrevious: true });
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect((await refusal(token, shortTtl)).code).toBe('invalid_token');

    const longTtl = checking({ verifiedCacheTtlMs: 60_000 });
    const shortLived = await issuer.sign({ sub: 'user-exp', expiresInSeconds: 1 });
    await longTtl.verify(shortLived);
    await new Promise((resolve) => setTimeout(resolve, 1100));
    expect((await refusal(shortLived, longTtl)).description).toContain('expired');
  });

  it('counts verified-token cache hits and misses in the registry', async () => {
    const registry = new Registry();
    const counted = checking({ verifiedCacheTtlMs: 60_000, registry });
    const value = async (name: string) => (await registry.getSingleMetric(name)!.get()).values[0]?.value;
    const token = await issuer.sign({ sub: 'user-counted' });
    await counted.verify(token);
    await counted.verify(token);
    await counted.verify(token);
    expect(await value('auth_verified_token_cache_misses_total')).toBe(1);
    expect(await value('auth_verified_token_cache_hits_total')).toBe(2);
    // Off: every call is a signature check, counted as a miss.
    const offRegistry = new Registry();
    const off = checking({ verifiedCacheSizeMax: 0, registry: offRegistry });
    await off.verify(token);
    await off.verify(token);
    expect((await offRegistry.getSingleMetric('auth_verified_token_cache_misses_total')!.get()).values[0]?.value).toBe(2);
    expect((await offRegistry.getSingleMetric('auth_verified_token_cache_hits_total')!.get()).values[0]?.value).toBe(0);
  });

  it('checks every call again when the cache is off', async () => {
    const uncached = checking({ verifiedCacheSizeMax: 0 });
    const token = await issuer.sign({ sub: 'user-uncached' });
    await uncached.verify(token);
    await issuer.rotate({ dropPrevious: true });
    expect((await refusal(token, uncached)).code).toBe('invalid_token');
  });

  it('answers "unavailable" (not invalid_token) when the issuer cannot be reached', async () => {
    const dead = createServer();
    await new Promise<void>((resolve) => dead.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(dead.address() as AddressInfo).port}`;
    await new Promise<void>((resolve) => dead.close(() => resolve()));
    const offline = createTokenVerifier({ issuer: url, audience: 'wallet-api', fetchTimeoutMs: 500 });
    expect((await refusal(await issuer.sign({ sub: 'u' }), offline)).code).toBe('unavailable');
  });

  it('refuses a discovery document that names another issuer', async () => {
    const liar = createServer((_request, response) => {
      response.setHeader('content-type', 'application/json');
      response.end(JSON.stringify({ issuer: 'https://elsewhere.example', jwks_uri: `${issuer.issuer}/jwks` }));
    });
    await new Promise<void>((resolve) => liar.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(liar.address() as AddressInfo).port}`;
    try {
      const misled = createTokenVerifier({ issuer: url, audience: issuer.audience });
      expect((await refusal(await issuer.sign({ sub: 'u', issuer: url }), misled)).code).toBe('unavailable');
    } finally {
      await new Promise<void>((resolve) => liar.close(() => resolve()));
    }
  });
});

describe('token verifier against an issuer serving HTTPS with the internal CA', () => {
  let tlsIssuer: TestIssuer;
  beforeAll(async () => {
    tlsIssuer = await startTestIssuer({ tls: true });
  });
  afterAll(() => tlsIssuer.close());

  it('refuses as "unavailable" when the CA is not trusted (system roots only)', async () => {
    const rootsOnly = createTokenVerifier({ issuer: tlsIssuer.issuer, audience: tlsIssuer.audience, fetchTimeoutMs: 2000 });
    const error = await refusal(await tlsIssuer.sign({ sub: 'user-tls' }), rootsOnly);
    expect(error.code).toBe('unavailable');
  });

  it('accepts a token when caCertificates holds the CA: discovery and JWKS are fetched over HTTPS', async () => {
    expect(tlsIssuer.issuer).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const trusting = createTokenVerifier({ issuer: tlsIssuer.issuer, audience: tlsIssuer.audience, caCertificates: tlsIssuer.ca!, jwksCooldownMs: 0 });
    try {
      await expect(trusting.verify(await tlsIssuer.sign({ sub: 'user-tls' }))).resolves.toMatchObject({ subject: 'user-tls' });
      // A rotated key is fetched through the same trusted connection.
      await tlsIssuer.rotate();
      await expect(trusting.verify(await tlsIssuer.sign({ sub: 'user-tls-2' }))).resolves.toMatchObject({ subject: 'user-tls-2' });
      expect(tlsIssuer.jwksFetches).toBe(2);
    } finally {
      await trusting.close?.();
    }
  });

  it('asks a CA function before each fetch, so a CA bundle that changes is used by the next connection', async () => {
    let ca: Buffer = Buffer.from('');
    const following = createTokenVerifier({ issuer: tlsIssuer.issuer, audience: tlsIssuer.audience, caCertificates: () => ca, fetchTimeoutMs: 2000 });
    try {
      const token = await tlsIssuer.sign({ sub: 'user-ca-rotation' });
      expect((await refusal(token, following)).code).toBe('unavailable');
      ca = tlsIssuer.ca!;
      // A failed discovery is retried at most once a second.
      await waitFor(async () => (await following.verify(token).catch(() => undefined))?.subject === 'user-ca-rotation', { timeoutMs: 10_000, intervalMs: 200 });
    } finally {
      await following.close?.();
    }
  });
});

describe('roles and account access rules', () => {
  const as = (roles: Principal['roles'], subject = 'alice'): Principal => ({ subject, roles, expiresAtSeconds: 0 });

  it('reads roles from a dotted claim path (Keycloak) and defaults to customer', () => {
    expect(rolesFromClaims({ realm_access: { roles: ['admin', 'offline_access'] } }, 'realm_access.roles')).toEqual(['admin']);
    expect(rolesFromClaims({ 'https://wallet.example/roles': ['support'] }, 'https://wallet.example/roles')).toEqual(['support']);
    expect(rolesFromClaims({}, 'roles')).toEqual(['customer']);
    expect(rolesFromClaims({ roles: 'customer admin' }, 'roles')).toEqual(['customer', 'admin']);
  });

  it('lets a customer read and move only its own accounts; others look unknown', () => {
    expect(readAccess(as(['customer']), 'alice')).toBe('allow');
    expect(readAccess(as(['customer']), 'bob')).toBe('not_found');
    expect(moveAccess(as(['customer']), 'bob')).toBe('not_found');
    expect(moveAccess(as(['customer']), null)).toBe('not_found');
  });

  it('lets support read anything and move nothing; admin does everything', () => {
    expect(readAccess(as(['support']), 'bob')).toBe('allow');
    expect(moveAccess(as(['support']), 'support')).toBe('forbidden');
    expect(moveAccess(as(['admin']), 'bob')).toBe('allow');
  });
});

describe('bearer header', () => {
  it('parses only well-formed bearer tokens', () => {
    expect(parseBearer(undefined)).toEqual({ kind: 'missing' });
    expect(parseBearer('Basic abc')).toEqual({ kind: 'malformed' });
    expect(parseBearer('Bearer a.b.c')).toEqual({ kind: 'token', token: 'a.b.c' });
    expect(parseBearer('bearer a.b.c')).toEqual({ kind: 'token', token: 'a.b.c' });
    expect(parseBearer('Bearer a b')).toEqual({ kind: 'malformed' });
    expect(parseBearer(`Bearer ${'a'.repeat(9000)}.b.c`)).toEqual({ kind: 'malformed' });
  });
});
