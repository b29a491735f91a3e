import { createRemoteJWKSet, customFetch, decodeProtectedHeader, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEV_USERS } from '../../src/app/users.js';
import { get, passwordLogin, startHarness, testFetch, type Harness } from '../support/harness.js';

const alice = DEV_USERS[0];

async function verifyThroughDiscovery(h: Harness, token: string) {
  const discovery = await get(`${h.url}/.well-known/openid-configuration`);
  // A fresh remote set each time: as a gateway that has never seen the key would.
  const jwks = createRemoteJWKSet(new URL(String(discovery.body.jwks_uri)), { [customFetch]: testFetch });
  return jwtVerify(token, jwks, { issuer: String(discovery.body.issuer), audience: 'wallet-api' });
}

describe('OpenID discovery, JWKS and signing key rotation', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ IDENTITY_SEED_DEV_USERS: 'true' });
  });
  afterAll(async () => h?.stop());

  it('publishes discovery metadata whose issuer and endpoints point at this server', async () => {
    const res = await get(`${h.url}/.well-known/openid-configuration`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      issuer: h.url,
      jwks_uri: `${h.url}/.well-known/jwks.json`,
      token_endpoint: `${h.url}/auth/token`,
      authorization_endpoint: `${h.url}/auth/authorize`,
      revocation_endpoint: `${h.url}/auth/revoke`,
      grant_types_supported: ['authorization_code', 'password', 'refresh_token', 'client_credentials'],
      id_token_signing_alg_values_supported: ['ES256'],
    });
  });

  it('issues ES256 access tokens with iss, aud, sub, exp, iat, jti, roles and username that verify through discovery', async () => {
    const login = await passwordLogin(h, alice.username, alice.password);
    expect(login.status).toBe(200);
    const token = String(login.body.access_token);
    expect(decodeProtectedHeader(token)).toMatchObject({ alg: 'ES256', typ: 'at+jwt' });
    const { payload } = await verifyThroughDiscovery(h, token);
    expect(payload).toMatchObject({ iss: h.url, aud: 'wallet-api', sub: alice.userId, roles: ['customer'], username: 'alice' });
    expect(typeof payload.jti).toBe('string');
    expect(payload.exp! - payload.iat!).toBeLessThanOrEqual(900);
    expect(login.body.expires_in).toBe(900);
  });

  it('keeps the previous key published after a rotation, so tokens signed by either key validate', async () => {
    const before = await passwordLogin(h, alice.username, alice.password);
    const oldKid = decodeProtectedHeader(String(before.body.access_token)).kid;
    await h.service.keyRing.rotateNow();
    const after = await passwordLogin(h, alice.username, alice.password);
    const newKid = decodeProtectedHeader(String(after.body.access_token)).kid;
    expect(newKid).not.toBe(oldKid);
    const jwks = await get(`${h.url}/.well-known/jwks.json`);
    const kids = (jwks.body.keys as { kid: string; d?: string }[]).map((k) => k.kid);
    expect(kids).toEqual(expect.arrayContaining([oldKid, newKid]));
    expect((jwks.body.keys as { d?: string }[]).every((k) => k.d === undefined)).toBe(true); // never a private part
    await expect(verifyThroughDiscovery(h, String(before.body.access_token))).resolves.toBeTruthy();
    await expect(verifyThroughDiscovery(h, String(after.body.access_token))).resolves.toBeTruthy();
  });

  it('stops publishing a superseded key once every token it signed has expired', async () => {
    const current = h.service.keyRing.signingKey().kid;
    await h.service.keyRing.rotateNow();
    // access token TTL (900 s) + key refresh period (60 s) + clock skew (60 s), and a little more
    h.clock.advance(1_030_000);
    const kids = ((await get(`${h.url}/.well-known/jwks.json`)).body.keys as { kid: string }[]).map((k) => k.kid);
    expect(kids).not.toContain(current);
    expect(kids).toEqual([h.service.keyRing.signingKey().kid]);
  });

  it('a second replica on the same database signs with the shared key and rotates when the interval is due', async () => {
    const replica = await startHarness({ IDENTITY_SIGNING_KEY_ROTATION_INTERVAL_MS: '3600000' }, { db: h.db, clock: h.clock });
    try {
      expect(replica.service.keyRing.signingKey().kid).toBe(h.service.keyRing.signingKey().kid);
      h.clock.advance(3_600_001);
      await replica.service.keyRing.refresh();
      const rotated = replica.service.keyRing.signingKey().kid;
      expect(rotated).not.toBe(h.service.keyRing.signingKey().kid);
      // The first replica sees the new key in its JWKS at once (read from the database), then signs with it.
      const kids = ((await get(`${h.url}/.well-known/jwks.json`)).body.keys as { kid: string }[]).map((k) => k.kid);
      expect(kids).toContain(rotated);
      await h.service.keyRing.refresh();
      expect(h.service.keyRing.signingKey().kid).toBe(rotated);
    } finally {
      await replica.stop();
    }
  });
});
