// Key rotation as a resource server sees it: the platform's createTokenVerifier
// (what the gateway, bank and card adapter use) against the real service over HTTPS.
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createTestDatabase, freePort, type TestDatabase } from '@wallet/testkit';
import { AccessTokenError, createTokenVerifier, type TokenVerifier } from '@wallet/platform/auth';
import { decodeProtectedHeader } from 'jose';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DEV_USERS } from '../../src/app/users.js';
import { dropTestDatabase } from '../support/db.js';
import { get, passwordLogin, startHarness, testCa, type Harness } from '../support/harness.js';

const alice = DEV_USERS[0];
const verifiers: TokenVerifier[] = [];

/** A verifier that has never seen this issuer's keys, with no verified-token cache (each call checks the signature). */
async function freshVerifier(h: Harness): Promise<TokenVerifier> {
  const verifier = createTokenVerifier({ issuer: h.url, audience: 'wallet-api', caCertificates: await testCa(), jwksCooldownMs: 0, verifiedCacheSizeMax: 0 });
  verifiers.push(verifier);
  return verifier;
}

async function accessToken(h: Harness): Promise<string> {
  const login = await passwordLogin(h, alice.username, alice.password);
  expect(login.status).toBe(200);
  return String(login.body.access_token);
}

async function publishedKids(h: Harness): Promise<string[]> {
  return ((await get(`${h.url}/.well-known/jwks.json`)).body.keys as { kid: string }[]).map((key) => key.kid);
}

async function refusal(verifier: TokenVerifier, token: string): Promise<AccessTokenError> {
  const error: unknown = await verifier.verify(token).then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(AccessTokenError);
  return error as AccessTokenError;
}

afterEach(async () => {
  await Promise.all(verifiers.splice(0).map((verifier) => verifier.close?.()));
});

describe('signing key rotation in database mode, seen by a real verifier', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ IDENTITY_SEED_DEV_USERS: 'true' });
  });
  afterAll(async () => h?.stop());

  it('after a rotation, tokens of the previous and the new key both verify; once the previous key is withdrawn its tokens are refused', async () => {
    const running = await freshVerifier(h);
    const old = await accessToken(h);
    await expect(running.verify(old)).resolves.toMatchObject({ subject: alice.userId });

    await h.service.keyRing.rotateNow();
    const fresh = await accessToken(h);
    expect(decodeProtectedHeader(fresh).kid).not.toBe(decodeProtectedHeader(old).kid);
    expect(await publishedKids(h)).toEqual(expect.arrayContaining([decodeProtectedHeader(old).kid, decodeProtectedHeader(fresh).kid]));
    // A verifier that cached the old key set picks the new key up; one that starts now gets both.
    await expect(running.verify(fresh)).resolves.toMatchObject({ subject: alice.userId });
    await expect(running.verify(old)).resolves.toMatchObject({ subject: alice.userId });
    const later = await freshVerifier(h);
    await expect(later.verify(old)).resolves.toMatchObject({ subject: alice.userId });
    await expect(later.verify(fresh)).resolves.toMatchObject({ subject: alice.userId });

    // Past token TTL + refresh period + skew the old key leaves the JWKS: a verifier fetching it now refuses the old token.
    h.clock.advance(1_030_000);
    expect(await publishedKids(h)).toEqual([decodeProtectedHeader(fresh).kid]);
    const afterWithdrawal = await freshVerifier(h);
    expect((await refusal(afterWithdrawal, old)).code).toBe('invalid_token');
    await expect(afterWithdrawal.verify(fresh)).resolves.toMatchObject({ subject: alice.userId });
  });
});

/** A PEM PKCS#8 P-256 key, as `openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256` writes it. */
function keyFile(dir: string, name: string): string {
  const file = path.join(dir, `${name}.pem`);
  writeFileSync(file, generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  return file;
}

describe('signing key rotation in file mode (IDENTITY_SIGNING_KEY_FILE / _PREVIOUS_FILE), seen by a real verifier', () => {
  let db: TestDatabase;
  let port: number;
  let dir: string;
  beforeAll(async () => {
    db = await createTestDatabase('identity_key_files');
    port = await freePort();
    dir = mkdtempSync(path.join(tmpdir(), 'identity-signing-keys-'));
  });
  afterAll(async () => dropTestDatabase(db));

  /** One instance on the same port and database (so the issuer URL stays the same), signing with `current`. */
  async function withInstance<T>(current: string, previous: string | undefined, run: (h: Harness) => Promise<T>): Promise<T> {
    const env: Record<string, string> = { IDENTITY_SEED_DEV_USERS: 'true', IDENTITY_SIGNING_KEY_FILE: current };
    if (previous !== undefined) env.IDENTITY_SIGNING_KEY_PREVIOUS_FILE = previous;
    const h = await startHarness(env, { db, port });
    try {
      return await run(h);
    } finally {
      await h.stop();
    }
  }

  it('rotating the files (new key, old one as previous) keeps old tokens valid; a key dropped from the files is refused', async () => {
    const [k1, k2, k3] = [keyFile(dir, 'k1'), keyFile(dir, 'k2'), keyFile(dir, 'k3')];
    const t1 = await withInstance(k1, undefined, (h) => accessToken(h));

    const t2 = await withInstance(k2, k1, async (h) => {
      expect(await publishedKids(h)).toHaveLength(2);
      const token = await accessToken(h);
      const verifier = await freshVerifier(h);
      await expect(verifier.verify(t1)).resolves.toMatchObject({ subject: alice.userId });
      await expect(verifier.verify(token)).resolves.toMatchObject({ subject: alice.userId });
      return token;
    });

    await withInstance(k3, k2, async (h) => {
      const t3 = await accessToken(h);
      const verifier = await freshVerifier(h);
      expect((await refusal(verifier, t1)).code).toBe('invalid_token');
      await expect(verifier.verify(t2)).resolves.toMatchObject({ subject: alice.userId });
      await expect(verifier.verify(t3)).resolves.toMatchObject({ subject: alice.userId });
    });
  });
});
