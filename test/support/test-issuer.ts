import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type JWK, type CryptoKey } from 'jose';

/**
 * A token issuer for integration tests that run a service in-process: it
 * serves a real OpenID discovery document and JWKS on a loopback port and
 * signs ES256 access tokens, so the service under test verifies them exactly
 * as it verifies the identity-service's (discovery, JWKS fetch, rotation).
 * End-to-end tests use the real identity-service instead. With `tls: true` it
 * serves HTTPS with the identity-service certificate of the test PKI (as the
 * real one does), so verifiers need the CA (`ca`, i.e. TLS_CA_FILE).
 */
export interface TestTokenClaims {
  sub: string;
  roles?: readonly string[];
  username?: string;
  /** Seconds from now; negative makes an expired token. Default 300. */
  expiresInSeconds?: number;
  /** Override `iss` / `aud` to test refusals. */
  issuer?: string;
  audience?: string;
  [claim: string]: unknown;
}

export interface TestIssuer {
  /** `iss` of its tokens; discovery lives at `${issuer}/.well-known/openid-configuration`. */
  readonly issuer: string;
  readonly audience: string;
  /** Signs an access token with the current key. */
  sign(claims: TestTokenClaims): Promise<string>;
  /** `Bearer <token>` for a customer (or the given roles). */
  bearer(sub: string, roles?: readonly string[]): Promise<string>;
  /** A new current key; the old one stays published unless `dropPrevious`. */
  rotate(options?: { dropPrevious?: boolean }): Promise<void>;
  /** The CA that signed its HTTPS certificate (`tls: true` only): what verifiers pass as caCertificates. */
  readonly ca: Buffer | undefined;
  /** How many times the JWKS was fetched (rotation tests). */
  readonly jwksFetches: number;
  close(): Promise<void>;
}

interface SigningKey {
  kid: string;
  privateKey: CryptoKey;
  publicJwk: JWK;
}

async function newKey(index: number): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  const kid = `test-key-${index}`;
  return { kid, privateKey, publicJwk: { ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' } };
}

/** The identity-service's certificate, key and CA from the run's test PKI. */
async function identityTls(): Promise<{ ca: Buffer; cert: Buffer; key: Buffer }> {
  // Imported lazily: plain-HTTP users of this issuer need no PKI on disk.
  const { testTlsEnv } = await import('./pki.js');
  const env = await testTlsEnv('identity-service');
  return { ca: readFileSync(env.TLS_CA_FILE), cert: readFileSync(env.TLS_CERT_FILE), key: readFileSync(env.TLS_KEY_FILE) };
}

export async function startTestIssuer(options: { audience?: string; tls?: boolean } = {}): Promise<TestIssuer> {
  const audience = options.audience ?? 'wallet-api';
  const keys: SigningKey[] = [await newKey(0)];
  let jwksFetches = 0;
  let issuer = '';
  const tls = options.tls === true ? await identityTls() : undefined;
  const handle = (request: IncomingMessage, response: ServerResponse): void => {
    if (request.url === '/.well-known/openid-configuration') {
      response.setHeader('content-type', 'application/json');
      response.end(JSON.stringify({ issuer, jwks_uri: `${issuer}/jwks`, token_endpoint: `${issuer}/token`, id_token_signing_alg_values_supported: ['ES256'] }));
    } else if (request.url === '/jwks') {
      jwksFetches += 1;
      response.setHeader('content-type', 'application/json');
      response.end(JSON.stringify({ keys: keys.map((key) => key.publicJwk) }));
    } else {
      response.statusCode = 404;
      response.end();
    }
  };
  const server: Server = tls ? createHttpsServer({ cert: tls.cert, key: tls.key }, handle) : createServer(handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  issuer = `${tls ? 'https' : 'http'}://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const sign = async (claims: TestTokenClaims): Promise<string> => {
    const { sub, roles = ['customer'], expiresInSeconds = 300, issuer: iss = issuer, audience: aud = audience, ...extra } = claims;
    const key = keys[keys.length - 1] as SigningKey;
    const nowSeconds = Math.floor(Date.now() / 1000);
    return new SignJWT({ ...extra, roles: [...roles] })
      .setProtectedHeader({ alg: 'ES256', kid: key.kid, typ: 'at+jwt' })
      .setIssuer(iss)
      .setAudience(aud)
      .setSubject(sub)
      .setIssuedAt(nowSeconds - (expiresInSeconds < 0 ? 600 : 0))
      .setExpirationTime(nowSeconds + expiresInSeconds)
      .setJti(crypto.randomUUID())
      .sign(key.privateKey);
  };

  return {
    issuer,
    audience,
    ca: tls?.ca,
    sign,
    bearer: async (sub, roles) => `Bearer ${await sign({ sub, ...(roles === undefined ? {} : { roles }) })}`,
    async rotate({ dropPrevious = false } = {}) {
      const next = await newKey(keys.length);
      if (dropPrevious) keys.splice(0, keys.length);
      keys.push(next);
    },
    get jwksFetches() {
      return jwksFetches;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Keep-alive connections of verifiers would hold close() open until they time out.
        server.closeAllConnections();
      }),
  };
}
