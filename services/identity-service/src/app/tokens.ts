// The token endpoint's use cases: password, refresh_token and
// client_credentials grants, and logout. HTTP parsing lives in http/.
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { SignJWT } from 'jose';
import { accessTokenClaims, grantedScope, type Principal, type UserPrincipal } from '../domain/claims.js';
import type { AuthorizationRequest, CodeClient } from '../domain/authorization-code.js';
import { isPlausiblePassword, USERNAME_PATTERN } from '../domain/credentials.js';
import { decideAttempt, recordFailure, type LockoutPolicy } from '../domain/lockout.js';
import { LoginLockedError, OAuthError } from '../domain/oauth-errors.js';
import { USER_TOKEN_SCOPE } from '../domain/roles.js';
import type { PgAuthorizationCodeStore } from '../db/authorization-codes.js';
import type { PgClientStore } from '../db/clients.js';
import type { PgLoginFailureStore } from '../db/login-failures.js';
import type { NewRefreshToken, PgRefreshTokenStore } from '../db/refresh-tokens.js';
import type { PgUserStore, UserRow } from '../db/users.js';
import type { IdentityMetrics } from '../metrics.js';
import type { KeyRing } from './key-ring.js';
import type { PasswordHasher } from './password-hasher.js';

export interface TokenSettings {
  issuer: string;
  audience: string;
  accessTokenTtlSeconds: number;
  refreshTokenTtlSeconds: number;
  lockout: LockoutPolicy;
  publicClientIds: readonly string[];
  /** Public clients of the authorization code flow (the browser app); they may not use the password grant. */
  codeClients: readonly CodeClient[];
  authorizationCodeTtlMs: number;
}

export interface TokenDeps {
  users: PgUserStore;
  clients: PgClientStore;
  refreshTokens: PgRefreshTokenStore;
  authorizationCodes: PgAuthorizationCodeStore;
  loginFailures: PgLoginFailureStore;
  hasher: PasswordHasher;
  keyRing: KeyRing;
  metrics: IdentityMetrics;
  now: () => number;
}

/** How the client identified itself (Basic header or form fields); no secret for public clients. */
export interface ClientCredentials {
  clientId: string | undefined;
  clientSecret: string | undefined;
}

/** RFC 6749 section 5.1 success body. */
export interface TokenResponse {
  access_token: string;
  token_type: 'Bearer';
  expires_in: number;
  refresh_token?: string;
  scope?: string;
}

export type TokenParams = Record<string, string | undefined>;

export interface AuthenticatedClient {
  clientId: string;
  confidential: boolean;
  /** A public client of the authorization code flow (the browser app). */
  codeFlowOnly: boolean;
}

/** Refresh tokens and authorization codes are 256 random bits; SHA-256 is enough to store them (nothing to brute-force). */
export function hashRefreshToken(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

const CLIENT_ID_PATTERN = /^[A-Za-z0-9._-]{3,64}$/;

export class TokenService {
  constructor(
    private readonly deps: TokenDeps,
    private readonly settings: TokenSettings,
  ) {}

  /** Public first-party client (no secret), confidential client (secret checked), or none. */
  async authenticateClient(credentials: ClientCredentials): Promise<AuthenticatedClient | undefined> {
    const { clientId, clientSecret } = credentials;
    if (clientId === undefined) {
      if (clientSecret !== undefined) throw new OAuthError('invalid_request', 'client_secret without client_id');
      return undefined;
    }
    // A public client has no secret; Swagger UI and other OAuth libraries still send it as HTTP Basic
    // with an empty password, which is the same statement, so it is accepted as "no secret".
    const codeClient = this.settings.codeClients.some((c) => c.clientId === clientId);
    const isPublic = codeClient || this.settings.publicClientIds.includes(clientId);
    if (clientSecret === undefined || (clientSecret === '' && isPublic)) {
      if (isPublic) return { clientId, confidential: false, codeFlowOnly: codeClient };
      throw new OAuthError('invalid_client', 'unknown client or bad client credentials');
    }
    const client = CLIENT_ID_PATTERN.test(clientId) ? await this.deps.clients.find(clientId) : undefined;
    const ok = client
      ? await this.deps.hasher.verify(client.secretHash, clientSecret)
      : await this.deps.hasher.verifyAgainstNobody(clientSecret.slice(0, 128));
    if (!ok) throw new OAuthError('invalid_client', 'unknown client or bad client credentials');
    return { clientId, confidential: true, codeFlowOnly: false };
  }

  async passwordGrant(params: TokenParams, credentials: ClientCredentials): Promise<TokenResponse> {
    const { username, password } = params;
    if (!username || password === undefined) throw new OAuthError('invalid_request', 'username and password are required');
    const client = await this.authenticateClient(credentials);
    // The browser app signs in through the authorization endpoint only (no password grant in the browser).
    if (client?.codeFlowOnly) throw new OAuthError('unauthorized_client', 'this client must use the authorization code flow');
    const user = await this.authenticateUser(username, password);
    const principal: UserPrincipal = { kind: 'user', userId: user.userId, username: user.username, roles: user.roles };
    if (client) principal.clientId = client.clientId;
    return this.issueUserTokens(principal, randomUUID());
  }

  async refreshGrant(params: TokenParams, credentials: ClientCredentials): Promise<TokenResponse> {
    const presented = params.refresh_token;
    if (!presented) throw new OAuthError('invalid_request', 'refresh_token is required');
    const client = await this.authenticateClient(credentials);
    const successor = this.newRefreshToken();
    const result = await this.deps.refreshTokens.exchange(hashRefreshToken(presented), this.deps.now(), client?.clientId, successor.row);
    if (result.decision.action === 'revoke_family') this.deps.metrics.refreshTokenReuse.inc();
    if (result.decision.action !== 'rotate' || !('userId' in result)) {
      throw new OAuthError('invalid_grant', 'the refresh token is invalid, expired or revoked');
    }
    const user = await this.deps.users.findById(result.userId);
    if (!user) throw new OAuthError('invalid_grant', 'the refresh token is invalid, expired or revoked');
    const principal: UserPrincipal = { kind: 'user', userId: user.userId, username: user.username, roles: user.roles };
    if (result.clientId !== undefined) principal.clientId = result.clientId;
    return { ...(await this.accessToken(principal, USER_TOKEN_SCOPE)), refresh_token: successor.token, scope: USER_TOKEN_SCOPE };
  }

  async clientCredentialsGrant(params: TokenParams, credentials: ClientCredentials): Promise<TokenResponse> {
    if (credentials.clientId === undefined || credentials.clientSecret === undefined) {
      throw new OAuthError('invalid_client', 'client authentication is required for client_credentials');
    }
    await this.authenticateClient(credentials);
    const client = await this.deps.clients.find(credentials.clientId);
    if (!client) throw new OAuthError('invalid_client', 'unknown client or bad client credentials');
    const scope = grantedScope(params.scope, client.scopes);
    if (scope === undefined) throw new OAuthError('invalid_scope', 'the client may not request that scope');
    const principal: Principal = { kind: 'client', clientId: client.clientId, roles: client.roles, scopes: client.scopes };
    const response = await this.accessToken(principal, scope);
    return scope === '' ? response : { ...response, scope };
  }

  /** Revokes the token and every token of its family; unknown tokens are ignored (RFC 7009 2.2). */
  async logout(refreshToken: string): Promise<void> {
    await this.deps.refreshTokens.revokeFamilyOf(hashRefreshToken(refreshToken));
  }

  /**
   * A user's password check with the per-username lockout (token endpoint and
   * sign-in page alike): OAuthError invalid_grant, or LoginLockedError.
   */
  async authenticateUser(username: string, password: string): Promise<UserRow> {
    const invalid = new OAuthError('invalid_grant', 'invalid username or password');
    if (!USERNAME_PATTERN.test(username)) throw invalid; // no such user can exist; nothing to lock
    const decision = decideAttempt(await this.deps.loginFailures.find(username), this.deps.now());
    if (decision.action === 'locked') throw new LoginLockedError(decision.retryAfterSeconds);
    const user = await this.checkPassword(username, password);
    if (!user) {
      await this.recordFailedLogin(username);
      throw invalid;
    }
    await this.deps.loginFailures.clear(username);
    return user;
  }

  /** A new single-use code for a signed-in user, bound to the request's client, redirect URI and challenge. */
  async issueAuthorizationCode(request: AuthorizationRequest, userId: string): Promise<string> {
    const code = randomBytes(32).toString('base64url');
    await this.deps.authorizationCodes.insert({
      codeHash: hashRefreshToken(code),
      clientId: request.clientId,
      redirectUri: request.redirectUri,
      codeChallenge: request.codeChallenge,
      userId,
      familyId: randomUUID(),
      expiresAtMs: this.deps.now() + this.settings.authorizationCodeTtlMs,
    });
    return code;
  }

  /** RFC 6749 4.1.3 with RFC 7636 4.5: the same answer as the password grant. */
  async authorizationCodeGrant(params: TokenParams, credentials: ClientCredentials): Promise<TokenResponse> {
    const { code, redirect_uri: redirectUri, code_verifier: codeVerifier } = params;
    if (!code || !redirectUri || !codeVerifier) throw new OAuthError('invalid_request', 'code, redirect_uri and code_verifier are required');
    const client = await this.authenticateClient(credentials);
    if (!client) throw new OAuthError('invalid_request', 'client_id is required');
    const refresh = this.newRefreshToken();
    const result = await this.deps.authorizationCodes.redeem(hashRefreshToken(code), { clientId: client.clientId, redirectUri, codeVerifier }, this.deps.now(), refresh.row);
    if (result.decision.action === 'revoke_family') this.deps.metrics.authorizationCodeReuse.inc();
    if (result.decision.action !== 'issue' || !('userId' in result)) {
      throw new OAuthError('invalid_grant', 'the authorization code is invalid, expired, already used, or does not match the client, redirect_uri or code_verifier');
    }
    const user = await this.deps.users.findById(result.userId);
    if (!user) throw new OAuthError('invalid_grant', 'the authorization code is invalid');
    const principal: UserPrincipal = { kind: 'user', userId: user.userId, username: user.username, roles: user.roles, clientId: result.clientId };
    return { ...(await this.accessToken(principal, USER_TOKEN_SCOPE)), refresh_token: refresh.token, scope: USER_TOKEN_SCOPE };
  }

  /**
   * RFC 7009: revokes a refresh token and its family. Unknown tokens (an access
   * token included: JWTs cannot be recalled, they expire within 15 minutes) are ignored.
   * A token issued to a client may be revoked only by that client.
   */
  async revoke(token: string, credentials: ClientCredentials): Promise<void> {
    const client = await this.authenticateClient(credentials);
    const revoked = await this.deps.refreshTokens.revokeFamilyOfClient(hashRefreshToken(token), client?.clientId);
    if (revoked === 'wrong_client') throw new OAuthError('unauthorized_client', 'the token was not issued to this client');
  }

  private async checkPassword(username: string, password: string): Promise<UserRow | undefined> {
    if (!isPlausiblePassword(password)) return undefined; // can never match: no hashing spent on it
    const user = await this.deps.users.findByUsername(username);
    if (!user) {
      await this.deps.hasher.verifyAgainstNobody(password);
      return undefined;
    }
    return (await this.deps.hasher.verify(user.passwordHash, password)) ? user : undefined;
  }

  private async recordFailedLogin(username: string): Promise<void> {
    const nowMs = this.deps.now();
    const record = await this.deps.loginFailures.update(username, (current) => recordFailure(current, nowMs, this.settings.lockout));
    if (record.lockedUntilMs !== null && record.failures === this.settings.lockout.failuresMax) this.deps.metrics.loginLocks.inc();
  }

  private async issueUserTokens(principal: UserPrincipal, familyId: string): Promise<TokenResponse> {
    const refresh = this.newRefreshToken();
    await this.deps.refreshTokens.insert({ ...refresh.row, userId: principal.userId, familyId, clientId: principal.clientId });
    return { ...(await this.accessToken(principal, USER_TOKEN_SCOPE)), refresh_token: refresh.token, scope: USER_TOKEN_SCOPE };
  }

  /** A fresh opaque token; the store fills in its family, user and client. */
  private newRefreshToken(): { token: string; row: NewRefreshToken } {
    const token = randomBytes(32).toString('base64url');
    const expiresAtMs = this.deps.now() + this.settings.refreshTokenTtlSeconds * 1000;
    return { token, row: { tokenHash: hashRefreshToken(token), familyId: '', userId: '', clientId: undefined, expiresAtMs } };
  }

  private async accessToken(principal: Principal, scope: string): Promise<TokenResponse> {
    const key = this.deps.keyRing.signingKey();
    const claims = accessTokenClaims(
      principal,
      scope,
      { issuer: this.settings.issuer, audience: this.settings.audience, ttlSeconds: this.settings.accessTokenTtlSeconds },
      this.deps.now(),
      randomUUID(),
    );
    // RFC 9068 media type: a resource server can tell an access token from an ID token.
    const jwt = await new SignJWT({ ...claims }).setProtectedHeader({ alg: key.algorithm, kid: key.kid, typ: 'at+jwt' }).sign(key.privateKey);
    return { access_token: jwt, token_type: 'Bearer', expires_in: this.settings.accessTokenTtlSeconds };
  }
}
