import { createHash } from 'node:crypto';
import { rootCertificates } from 'node:tls';
import { createRemoteJWKSet, customFetch, errors as joseErrors, jwtVerify, type JWTPayload } from 'jose';
import { Counter, type Registry } from 'prom-client';
import { Agent, fetch as undiciFetch } from 'undici';
import { readClaim, rolesFromClaims, SUBJECT_LENGTH_MAX, type Principal } from './principal.js';

/**
 * Access-token verification through standard discovery only: the issuer's
 * `/.well-known/openid-configuration` names its `jwks_uri`; jose fetches and
 * caches that key set and refetches it when a token names an unknown `kid`
 * (key rotation). So our identity-service, Keycloak, Auth0 or Entra ID work by
 * configuration alone.
 */
export interface TokenVerifierOptions {
  /** Exact `iss` expected; discovery is read from `${issuer}/.well-known/openid-configuration`. */
  issuer: string;
  /** `aud` that must be present. */
  audience: string;
  /** Claim (name or dotted path) holding the roles; `roles` for ours, `realm_access.roles` for Keycloak. */
  rolesClaim?: string;
  /** Bound on each discovery or JWKS request. */
  fetchTimeoutMs?: number;
  /** How long a fetched key set is used before it is fetched again. */
  jwksCacheMaxAgeMs?: number;
  /**
   * After a fetch, no other fetch for this long, so tokens with made-up kids cannot make us hammer
   * the issuer. Short (1 s) because a token signed by a just-rotated key is refused until the next
   * fetch: jose's 30 s default would refuse fresh tokens for up to 30 s after every rotation.
   */
  jwksCooldownMs?: number;
  /** Allowed skew between our clock and the issuer's. */
  clockToleranceSeconds?: number;
  /** Tests and offline deployments may bypass discovery. */
  jwksUri?: string;
  /**
   * PEM CA certificate(s) trusted for the discovery and JWKS fetches in addition to the system
   * roots: the service's TLS_CA_FILE content, so an issuer serving HTTPS with a certificate of the
   * internal CA (our identity-service) is verified; public providers keep working through the roots.
   * A function is asked before each fetch (e.g. `() => provider.current().ca`), so a rotated CA
   * bundle is used by the next connection.
   */
  caCertificates?: CaSource;
  /**
   * Verified tokens remembered (by SHA-256) so a client's next calls with the same token skip the
   * signature check (0.35-0.55 ms of CPU each on the bench machine). 0 turns the cache off.
   */
  verifiedCacheSizeMax?: number;
  /**
   * How long a verified token is remembered, at most (and never past its `exp`): bounds how long a
   * token signed by a key withdrawn from the JWKS is still accepted by this process.
   */
  verifiedCacheTtlMs?: number;
  /**
   * The service's registry: auth_verified_token_cache_hits_total and _misses_total (a miss is a
   * signature check; with the cache off every verify is a miss), so the hit rate is measurable.
   */
  registry?: Registry;
}

/** Asymmetric algorithms only: `none` and HS* (e.g. HS256 "signed" with the public key) never verify. */
export const ACCEPTED_ALGORITHMS = ['ES256', 'ES384', 'EdDSA', 'RS256', 'PS256'] as const;

/**
 * Why a token was refused. `invalid_token` maps to 401 (RFC 6750);
 * `unavailable` means the issuer's keys could not be fetched: not the
 * caller's fault, so 503 rather than 401.
 */
export class AccessTokenError extends Error {
  constructor(
    readonly code: 'invalid_token' | 'unavailable',
    /** Safe to show: never contains the token. */
    readonly description: string,
  ) {
    super(description);
    this.name = 'AccessTokenError';
  }
}

export interface TokenVerifier {
  verify(token: string): Promise<Principal>;
  /** Releases the connections to the issuer (at shutdown). */
  close?(): Promise<void>;
}

/** What discovery and the JWKS fetch call: fetch's shape, narrowed to what they pass. */
export type IssuerFetch = (url: string, init: { headers?: Record<string, string> | Headers; signal: AbortSignal; method?: 'GET'; redirect?: 'manual' | 'follow' | 'error' }) => Promise<Response>;

/** PEM CA certificate(s), or a function returning the current ones. */
export type CaSource = Buffer | string | (() => Buffer | string);

/**
 * A fetch that trusts `caCertificates` besides the system roots (an undici
 * Agent whose TLS connect options carry both), or the global fetch when none
 * is given. A changed CA (function source) gets a new agent; `close` ends the
 * agent's connections.
 */
export function issuerFetch(caCertificates?: CaSource): { fetch: IssuerFetch; close(): Promise<void> } {
  if (caCertificates === undefined) return { fetch: (url, init) => fetch(url, init), close: async () => undefined };
  const currentCa = typeof caCertificates === 'function' ? caCertificates : () => caCertificates;
  let agent: { ca: string; dispatcher: Agent } | undefined;
  const dispatcher = (): Agent => {
    const ca = currentCa().toString();
    if (agent?.ca !== ca) {
      // Open connections to the old agent finish; new ones verify against the new bundle.
      void agent?.dispatcher.close();
      // `ca` replaces node's default trust store, so the roots are passed explicitly alongside the CA.
      agent = { ca, dispatcher: new Agent({ connect: { ca: [...rootCertificates, ca] } }) };
    }
    return agent.dispatcher;
  };
  return {
    // undici's Response is the same class the global fetch returns on node; only the typings differ.
    fetch: (url, init) =>
      undiciFetch(url, { ...init, headers: Object.fromEntries(new Headers(init.headers)), dispatcher: dispatcher() }) as unknown as Promise<Response>,
    close: async () => agent?.dispatcher.close(),
  };
}

interface DiscoveryDocument {
  issuer?: unknown;
  jwks_uri?: unknown;
}

/** A failed discovery is retried on a later request, at most once per this interval. */
const DISCOVERY_RETRY_MS = 1000;

export function createTokenVerifier(options: TokenVerifierOptions): TokenVerifier {
  const fetchTimeoutMs = options.fetchTimeoutMs ?? 3000;
  const rolesClaim = options.rolesClaim ?? 'roles';
  const transport = issuerFetch(options.caCertificates);
  let keys: Promise<ReturnType<typeof createRemoteJWKSet>> | undefined;
  let failedAtMs = 0;

  const keySet = (): Promise<ReturnType<typeof createRemoteJWKSet>> => {
    if (keys === undefined) {
      if (Date.now() - failedAtMs < DISCOVERY_RETRY_MS) {
        return Promise.reject(new AccessTokenError('unavailable', 'the token issuer is unreachable'));
      }
      keys = resolveJwksUri(options, fetchTimeoutMs, transport.fetch).then((uri) =>
        createRemoteJWKSet(new URL(uri), {
          timeoutDuration: fetchTimeoutMs,
          cacheMaxAge: options.jwksCacheMaxAgeMs ?? 10 * 60_000,
          cooldownDuration: options.jwksCooldownMs ?? 1000,
          [customFetch]: transport.fetch,
        }),
      );
      keys.catch(() => {
        keys = undefined;
        failedAtMs = Date.now();
      });
    }
    return keys;
  };

  const cache = new VerifiedTokenCache(options.verifiedCacheSizeMax ?? 10_000, options.verifiedCacheTtlMs ?? 60_000);
  const lookups = options.registry ? verifiedTokenCacheCounters(options.registry) : undefined;

  return {
    async verify(token) {
      const cacheKey = cache.enabled ? createHash('sha256').update(token).digest('base64url') : '';
      const remembered = cache.get(cacheKey);
      if (remembered !== undefined) {
        lookups?.hits.inc();
        return remembered;
      }
      lookups?.misses.inc();
      const jwks = await keySet();
      let payload: JWTPayload;
      try {
        ({ payload } = await jwtVerify(token, jwks, {
          issuer: options.issuer,
          audience: options.audience,
          algorithms: [...ACCEPTED_ALGORITHMS],
          clockTolerance: options.clockToleranceSeconds ?? 30,
          requiredClaims: ['sub', 'exp', 'iat'],
        }));
      } catch (error) {
        throw toAccessTokenError(error);
      }
      const principal = principalFrom(payload, rolesClaim);
      cache.set(cacheKey, principal);
      return principal;
    },
    close: () => transport.close(),
  };
}

/** Created once per registry (several verifiers may share one). */
export function verifiedTokenCacheCounters(registry: Registry): { hits: Counter; misses: Counter } {
  const counter = (name: string, help: string): Counter =>
    (registry.getSingleMetric(name) as Counter | undefined) ?? new Counter({ name, help, registers: [registry] });
  return {
    hits: counter('auth_verified_token_cache_hits_total', 'Access tokens found in the verified-token cache (no signature check).'),
    misses: counter('auth_verified_token_cache_misses_total', 'Access tokens not in the verified-token cache (signature checked; every token when the cache is off).'),
  };
}

/** Bounded map in insertion order: the oldest entry goes first when full; entries expire. */
class VerifiedTokenCache {
  private readonly entries = new Map<string, { principal: Principal; untilMs: number }>();

  constructor(
    private readonly sizeMax: number,
    private readonly ttlMs: number,
  ) {}

  get enabled(): boolean {
    return this.sizeMax > 0;
  }

  get(key: string): Principal | undefined {
    if (!this.enabled) return undefined;
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    if (Date.now() >= entry.untilMs) {
      this.entries.delete(key);
      return undefined;
    }
    return entry.principal;
  }

  set(key: string, principal: Principal): void {
    if (!this.enabled) return;
    const untilMs = Math.min(Date.now() + this.ttlMs, principal.expiresAtSeconds * 1000);
    if (untilMs <= Date.now()) return;
    if (this.entries.size >= this.sizeMax) {
      const oldest = this.entries.keys().next();
      if (oldest.done !== true) this.entries.delete(oldest.value);
    }
    this.entries.set(key, { principal, untilMs });
  }
}

async function resolveJwksUri(options: TokenVerifierOptions, fetchTimeoutMs: number, fetchIssuer: IssuerFetch): Promise<string> {
  if (options.jwksUri !== undefined) return options.jwksUri;
  const url = `${options.issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`;
  let document: DiscoveryDocument;
  try {
    const response = await fetchIssuer(url, { signal: AbortSignal.timeout(fetchTimeoutMs), headers: { accept: 'application/json' } });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    document = (await response.json()) as DiscoveryDocument;
  } catch (error) {
    throw new AccessTokenError('unavailable', `the token issuer's discovery document could not be read (${(error as Error).message})`);
  }
  // RFC 8414 section 3.3: the document must name exactly the issuer we asked.
  if (document.issuer !== options.issuer || typeof document.jwks_uri !== 'string') {
    throw new AccessTokenError('unavailable', 'the discovery document names another issuer or no jwks_uri');
  }
  return document.jwks_uri;
}

function toAccessTokenError(error: unknown): AccessTokenError {
  if (error instanceof AccessTokenError) return error;
  if (error instanceof joseErrors.JWTExpired) return new AccessTokenError('invalid_token', 'the access token expired');
  if (error instanceof joseErrors.JWTClaimValidationFailed) {
    return new AccessTokenError('invalid_token', `the access token's "${error.claim}" claim is not accepted`);
  }
  const tokenFaults = [
    joseErrors.JWTInvalid,
    joseErrors.JWSInvalid,
    joseErrors.JWSSignatureVerificationFailed,
    joseErrors.JOSEAlgNotAllowed,
    joseErrors.JOSENotSupported,
    joseErrors.JWKSNoMatchingKey,
    joseErrors.JWKSMultipleMatchingKeys,
  ];
  if (tokenFaults.some((kind) => error instanceof kind)) return new AccessTokenError('invalid_token', 'the access token is invalid');
  // Anything else (timeout, refused connection, a non-200 key set) is the issuer's trouble, not the caller's.
  return new AccessTokenError('unavailable', "the token issuer's keys could not be fetched");
}

function principalFrom(payload: JWTPayload, rolesClaim: string): Principal {
  const subject = payload.sub;
  if (typeof subject !== 'string' || subject.length === 0 || subject.length > SUBJECT_LENGTH_MAX) {
    throw new AccessTokenError('invalid_token', 'the access token has no usable "sub"');
  }
  const claims = payload as Record<string, unknown>;
  const username = readClaim(claims, 'username') ?? readClaim(claims, 'preferred_username');
  const clientId = readClaim(claims, 'client_id') ?? readClaim(claims, 'azp');
  return {
    subject,
    roles: rolesFromClaims(claims, rolesClaim),
    ...(typeof username === 'string' ? { username } : {}),
    ...(typeof clientId === 'string' ? { clientId } : {}),
    ...(typeof payload.jti === 'string' ? { tokenId: payload.jti } : {}),
    expiresAtSeconds: payload.exp as number,
  };
}
