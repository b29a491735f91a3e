// The signed-in session: tokens live in memory only (never localStorage), are
// refreshed before they expire, and sign-out revokes the refresh token and ends
// the identity provider's session. Only the PKCE verifier and state of a
// sign-in in progress survive the redirect, in sessionStorage (this tab only),
// and are removed when it completes. A page load without tokens tries one
// silent sign-in (prompt=none): the identity provider's own session cookie,
// not anything of ours, is what keeps a user signed in across a reload.
import { ApiError, request } from './api';
import { authorizeUrl, newPendingSignIn, readCallback, s256Challenge, type PendingSignIn } from './pkce';

export const CLIENT_ID = 'wallet-web';
/** The identity provider's end_session_endpoint, through the gateway (discovery names it). */
export const END_SESSION_ENDPOINT = '/auth/logout';
const PENDING_KEY = 'wallet.pendingSignIn';
/** Set while a silent sign-in is away at the identity provider: a load that finds it set does not try again (never a loop). */
const SILENT_KEY = 'wallet.silentSignIn';
/** Refresh this long before the access token expires. */
const REFRESH_MARGIN_MS = 60_000;
const REFRESH_DELAY_MS_MIN = 5_000;

export interface TokenResponse {
  access_token: string;
  token_type: string;
  expires_in: number;
  refresh_token?: string;
}

interface Tokens {
  accessToken: string;
  refreshToken: string | undefined;
  expiresAtMs: number;
}

export type SessionListener = (signedIn: boolean) => void;

export class AuthSession {
  private tokens: Tokens | undefined;
  private refreshing: Promise<void> | undefined;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private readonly listeners = new Set<SessionListener>();

  /** `base`: `/app` or `/console` (the redirect URI is `<origin><base>/callback`). */
  constructor(private readonly base: string) {}

  get signedIn(): boolean {
    return this.tokens !== undefined;
  }

  onChange(listener: SessionListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * On a page load without tokens (not the callback): leaves once for a silent sign-in and
   * answers true, or answers false (a silent attempt just came back without a callback).
   */
  resumeOnLoad(returnTo: string): boolean {
    if (this.signedIn) return false;
    if (sessionStorage.getItem(SILENT_KEY) !== null) {
      sessionStorage.removeItem(SILENT_KEY);
      return false;
    }
    sessionStorage.setItem(SILENT_KEY, '1');
    void this.startSignIn(returnTo, 'none');
    return true;
  }

  /** Leaves for the identity provider's sign-in (or sign-up) page; `none`: a silent sign-in. */
  async startSignIn(returnTo: string, prompt?: 'create' | 'none'): Promise<void> {
    const pending = newPendingSignIn(`${location.origin}${this.base}/callback`, returnTo);
    sessionStorage.setItem(PENDING_KEY, JSON.stringify(pending));
    const challenge = await s256Challenge(pending.verifier);
    const params = { authorizeEndpoint: '/auth/authorize', clientId: CLIENT_ID, redirectUri: pending.redirectUri, challenge, state: pending.state };
    location.assign(authorizeUrl(prompt ? { ...params, prompt } : params, location.origin));
  }

  /** On /callback: exchanges the code for tokens; resolves with the path to return to. */
  async completeSignIn(search: string): Promise<string> {
    const pending = readPending();
    sessionStorage.removeItem(PENDING_KEY);
    sessionStorage.removeItem(SILENT_KEY);
    // A silent sign-in without an identity-provider session (OIDC login_required): signed out, where the user was.
    const params = new URLSearchParams(search);
    if (pending && params.get('state') === pending.state && params.get('error') === 'login_required') return pending.returnTo;
    const result = readCallback(search, pending);
    if (result.kind === 'error' || !pending) throw new ApiError(400, result.kind === 'error' ? result.message : 'Sign in again.');
    const res = await request<TokenResponse>('POST', '/auth/token', {
      form: { grant_type: 'authorization_code', code: result.code, redirect_uri: pending.redirectUri, client_id: CLIENT_ID, code_verifier: pending.verifier },
    });
    this.accept(res.body);
    return pending.returnTo;
  }

  /** A valid access token, refreshed first when it is about to expire. */
  async accessToken(): Promise<string> {
    if (!this.tokens) throw new ApiError(401, 'Sign in first.');
    if (Date.now() > this.tokens.expiresAtMs - REFRESH_MARGIN_MS) await this.refresh();
    if (!this.tokens) throw new ApiError(401, 'Your session has ended. Sign in again.');
    return this.tokens.accessToken;
  }

  /** One refresh at a time; a refused refresh token ends the session. */
  refresh(): Promise<void> {
    this.refreshing ??= this.doRefresh().finally(() => {
      this.refreshing = undefined;
    });
    return this.refreshing;
  }

  private async doRefresh(): Promise<void> {
    const refreshToken = this.tokens?.refreshToken;
    if (!refreshToken) return this.clear();
    try {
      const res = await request<TokenResponse>('POST', '/auth/token', { form: { grant_type: 'refresh_token', refresh_token: refreshToken, client_id: CLIENT_ID } });
      this.accept(res.body);
    } catch (error) {
      // invalid_grant: the token was revoked or reused. A network error leaves the session to retry later.
      if (error instanceof ApiError && error.status !== 'network' && error.status < 500) this.clear();
      throw error;
    }
  }

  /**
   * Revokes the refresh token (RFC 7009), forgets every token, then ends the identity provider's
   * session (RP-Initiated Logout), which comes back to this app's start page; never fails the sign-out itself.
   */
  async signOut(): Promise<void> {
    const refreshToken = this.tokens?.refreshToken;
    this.clear();
    if (refreshToken) await request('POST', '/auth/revoke', { form: { token: refreshToken, token_type_hint: 'refresh_token', client_id: CLIENT_ID } }).catch(() => undefined);
    const endSession = new URL(END_SESSION_ENDPOINT, location.origin);
    endSession.searchParams.set('client_id', CLIENT_ID);
    endSession.searchParams.set('post_logout_redirect_uri', `${location.origin}${this.base}/`);
    location.assign(endSession.toString());
  }

  private accept(body: TokenResponse): void {
    const refreshToken = body.refresh_token ?? this.tokens?.refreshToken;
    this.tokens = { accessToken: body.access_token, refreshToken, expiresAtMs: Date.now() + body.expires_in * 1000 };
    clearTimeout(this.timer);
    const delayMs = Math.max(REFRESH_DELAY_MS_MIN, body.expires_in * 1000 - REFRESH_MARGIN_MS);
    // Silent refresh: a failure shows up on the next call (accessToken() refreshes again).
    this.timer = setTimeout(() => void this.refresh().catch(() => undefined), delayMs);
    for (const listener of this.listeners) listener(true);
  }

  private clear(): void {
    clearTimeout(this.timer);
    const was = this.tokens !== undefined;
    this.tokens = undefined;
    if (was) for (const listener of this.listeners) listener(false);
  }
}

function readPending(): PendingSignIn | undefined {
  try {
    const raw = sessionStorage.getItem(PENDING_KEY);
    return raw ? (JSON.parse(raw) as PendingSignIn) : undefined;
  } catch {
    return undefined;
  }
}
