import { mkdtempSync, readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { connect, type PeerCertificate } from 'node:tls';
import { waitFor } from '@wallet/testkit';
import { AccessTokenError, createTokenVerifier, type TokenVerifier } from '@wallet/platform/auth';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issueServiceCertificate, loadCa, writeServiceFiles } from '../../../../scripts/lib/pki.mjs';
import { testPki } from '../../../../test/support/pki.js';
import { DEV_CLIENT, DEV_USERS } from '../../src/app/users.js';
import { clientToken, get, passwordLogin, startHarness, testCa, type Harness } from '../support/harness.js';

const alice = DEV_USERS[0];

/** The certificate the server presents to a new connection (verified against the test CA). */
function servedCertificate(url: string, ca: Buffer): Promise<PeerCertificate> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: hostname, port: Number(port), ca, servername: 'identity-service' }, () => {
      resolve(socket.getPeerCertificate());
      socket.end();
    });
    socket.once('error', reject);
  });
}

/** A plain-HTTP request to the HTTPS port: the server must not answer it as HTTP. */
function plainHttpStatus(url: string): Promise<number | 'refused'> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const req = httpRequest({ host: hostname, port: Number(port), path: '/.well-known/jwks.json', timeout: 5_000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.once('error', () => resolve('refused'));
    req.once('timeout', () => req.destroy(new Error('timeout')));
    req.end();
  });
}

async function refusal(verifier: TokenVerifier, token: string): Promise<AccessTokenError> {
  const error: unknown = await verifier.verify(token).then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(AccessTokenError);
  return error as AccessTokenError;
}

describe('identity-service over HTTPS with its service certificate', () => {
  let h: Harness;
  let certDir: string;
  beforeAll(async () => {
    // Own copies of the certificate files, so the rotation test can replace them.
    certDir = mkdtempSync(path.join(tmpdir(), 'identity-https-'));
    const pki = await testPki();
    const files = writeServiceFiles(certDir, 'identity-service', {
      certPem: readFileSync(pki.services['identity-service']!.certFile, 'utf8'),
      keyPem: readFileSync(pki.services['identity-service']!.keyFile, 'utf8'),
    });
    h = await startHarness({
      IDENTITY_SEED_DEV_USERS: 'true',
      TLS_CERT_FILE: files.certFile,
      TLS_KEY_FILE: files.keyFile,
      TLS_RELOAD_INTERVAL_MS: '100',
    });
  });
  afterAll(async () => h?.stop());

  it('serves discovery, JWKS and the token endpoint over HTTPS, with https URLs in the discovery document', async () => {
    expect(h.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const discovery = await get(`${h.url}/.well-known/openid-configuration`);
    expect(discovery.body).toMatchObject({ issuer: h.url, jwks_uri: `${h.url}/.well-known/jwks.json`, token_endpoint: `${h.url}/auth/token` });
    expect(((await get(`${h.url}/.well-known/jwks.json`)).body.keys as unknown[]).length).toBeGreaterThan(0);
    expect((await passwordLogin(h, alice.username, alice.password)).status).toBe(200);
    expect((await clientToken(h, DEV_CLIENT.clientId, DEV_CLIENT.clientSecret)).status).toBe(200);
    // No client certificate is asked for (public OIDC endpoints); a plaintext request gets no HTTP answer.
    expect(await plainHttpStatus(h.url)).not.toBe(200);
  });

  it('a verifier without the CA refuses its tokens as "unavailable"; with caCertificates (TLS_CA_FILE) it accepts them', async () => {
    const token = String((await passwordLogin(h, alice.username, alice.password)).body.access_token);
    const rootsOnly = createTokenVerifier({ issuer: h.url, audience: 'wallet-api', fetchTimeoutMs: 3_000 });
    expect((await refusal(rootsOnly, token)).code).toBe('unavailable');
    const trusting = createTokenVerifier({ issuer: h.url, audience: 'wallet-api', caCertificates: await testCa() });
    try {
      await expect(trusting.verify(token)).resolves.toMatchObject({ subject: alice.userId, username: 'alice', roles: ['customer'] });
    } finally {
      await trusting.close?.();
    }
  });

  it('follows certificate rotation: new connections get the new certificate without a restart', async () => {
    const ca = await testCa();
    const before = await servedCertificate(h.url, ca);
    const pki = await testPki();
    const realCa = await loadCa(readFileSync(pki.caFile, 'utf8'), readFileSync(pki.caKeyFile, 'utf8'));
    writeServiceFiles(certDir, 'identity-service', await issueServiceCertificate(realCa, 'identity-service'));
    await waitFor(async () => (await servedCertificate(h.url, ca)).serialNumber !== before.serialNumber, {
      timeoutMs: 15_000,
      intervalMs: 50,
      what: 'the rotated certificate to be served',
    });
    // Still the same service, still usable.
    expect((await get(`${h.url}/.well-known/openid-configuration`)).status).toBe(200);
  });
});
