// OAuth 2.0 authorization code with PKCE (RFC 7636, S256 only) for a public
// client: the browser never sees a password, and a stolen code is useless
// without the verifier that stays in this tab.

const VERIFIER_BYTES = 32; // 43 base64url characters: RFC 7636's minimum length, 256 bits
const STATE_BYTES = 16;

export function base64Url(bytes: Uint8Array): string {
  let binary = '';
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

export function randomToken(bytes: number): string {
  return base64Url(crypto.getRandomValues(new Uint8Array(bytes)));
}

/** BASE64URL(SHA256(ASCII(code_verifier))). */
export async function s256Challenge(verifier: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier));
  return base64Url(new Uint8Array(digest));
}

export interface PendingSignIn {
  verifier: string;
  state: string;
  redirectUri: string;
  /** Where to go once signed in (a path of this app). */
  returnTo: string;
}

export function newPendingSignIn(redirectUri: string, returnTo: string): PendingSignIn {
  return { verifier: randomToken(VERIFIER_BYTES), state: randomToken(STATE_BYTES), redirectUri, returnTo };
}

export interface AuthorizeParams {
  authorizeEndpoint: string;
  clientId: string;
  redirectUri: string;
  challenge: string;
  state: string;
  /** `create`: open the sign-up page; `none`: a silent sign-in (a code if the identity provider has a session, else login_required). */
  prompt?: 'create' | 'none';
}

export function authorizeUrl(params: AuthorizeParams, origin: string): string {
  const url = new URL(params.authorizeEndpoint, origin);
  url.searchParams.set('response_type', 'code');
  url.searchParams.set('client_id', params.clientId);
  url.searchParams.set('redirect_uri', params.redirectUri);
  url.searchParams.set('code_challenge', params.challenge);
  url.searchParams.set('code_challenge_method', 'S256');
  url.searchParams.set('state', params.state);
  if (params.prompt) url.searchParams.set('prompt', params.prompt);
  return url.toString();
}

export type CallbackResult = { kind: 'code'; code: string } | { kind: 'error'; message: string };

/** Reads the redirect back from /auth/authorize; the state must be the one this tab sent (CSRF). */
export function readCallback(search: string, pending: PendingSignIn | undefined): CallbackResult {
  const params = new URLSearchParams(search);
  if (!pending) return { kind: 'error', message: 'This sign-in was not started in this tab. Sign in again.' };
  if (params.get('state') !== pending.state) return { kind: 'error', message: 'The sign-in answer does not match the request. Sign in again.' };
  const error = params.get('error');
  if (error) {
    const description = params.get('error_description');
    return { kind: 'error', message: description ? `Sign-in failed: ${description}` : `Sign-in failed (${error}).` };
  }
  const code = params.get('code');
  if (!code) return { kind: 'error', message: 'The sign-in answer carries no code. Sign in again.' };
  return { kind: 'code', code };
}
