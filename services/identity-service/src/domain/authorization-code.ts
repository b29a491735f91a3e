// OAuth 2.0 authorization code flow with PKCE (RFC 6749 4.1, RFC 7636, OAuth 2.0
// Security BCP): which authorization requests are acceptable, and whether a
// presented code may be redeemed. Pure (hashing is computation, not I/O).
import { createHash } from 'node:crypto';
import type { Prompt } from './session.js';

/** A public client allowed to use the code flow, with its exact redirect URIs. */
export interface CodeClient {
  clientId: string;
  redirectUris: readonly string[];
}

/** A validated authorization request: what the sign-in form carries back. */
export interface AuthorizationRequest {
  clientId: string;
  redirectUri: string;
  codeChallenge: string;
  state: string | undefined;
  /** prompt=create: show the sign-up form first. */
  create: boolean;
  /** OIDC prompt: none (never a form), login (the form even with a session), create (the sign-up form). */
  prompt?: Prompt | undefined;
}

/** Ways a request can fail; `fatal` ones are shown on an error page, never redirected (RFC 6749 4.1.2.1). */
export type AuthorizationRequestCheck =
  | { kind: 'ok'; request: AuthorizationRequest }
  | { kind: 'fatal'; message: string }
  | { kind: 'redirect'; redirectUri: string; state: string | undefined; error: 'invalid_request' | 'unsupported_response_type'; description: string };

/** S256 of a 32-byte verifier hash is exactly 43 base64url characters. */
const CHALLENGE_PATTERN = /^[A-Za-z0-9_-]{43}$/;
/** RFC 7636 4.1: 43-128 unreserved characters. */
const VERIFIER_PATTERN = /^[A-Za-z0-9._~-]{43,128}$/;
export const STATE_CHARS_MAX = 512;

const single = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);

/**
 * Checks client and redirect URI first: until both are known good, nothing
 * may be sent to the redirect URI (an open redirector otherwise).
 */
export function checkAuthorizationRequest(params: Record<string, unknown>, clients: readonly CodeClient[]): AuthorizationRequestCheck {
  const clientId = single(params.client_id);
  const client = clients.find((c) => c.clientId === clientId);
  if (!client || clientId === undefined) return { kind: 'fatal', message: 'Unknown client: this sign-in link is not valid.' };
  const redirectUri = single(params.redirect_uri);
  if (redirectUri === undefined || !client.redirectUris.includes(redirectUri)) {
    return { kind: 'fatal', message: 'The redirect address is not registered for this client: this sign-in link is not valid.' };
  }
  const stateValue = params.state;
  const state = single(stateValue);
  const fail = (error: 'invalid_request' | 'unsupported_response_type', description: string): AuthorizationRequestCheck => ({
    kind: 'redirect', redirectUri, state: state !== undefined && state.length <= STATE_CHARS_MAX ? state : undefined, error, description,
  });
  if (stateValue !== undefined && (state === undefined || state.length > STATE_CHARS_MAX)) return fail('invalid_request', `state must be one value of at most ${STATE_CHARS_MAX} characters`);
  if (single(params.response_type) !== 'code') return fail('unsupported_response_type', 'response_type must be code');
  if (single(params.code_challenge_method) !== 'S256') return fail('invalid_request', 'code_challenge_method must be S256 (plain is not accepted)');
  const codeChallenge = single(params.code_challenge);
  if (codeChallenge === undefined || !CHALLENGE_PATTERN.test(codeChallenge)) return fail('invalid_request', 'code_challenge must be the base64url S256 hash of the verifier (43 characters)');
  const prompt = params.prompt;
  if (prompt !== undefined && prompt !== 'create' && prompt !== 'login' && prompt !== 'none') return fail('invalid_request', 'prompt may be none, login or create');
  return { kind: 'ok', request: { clientId, redirectUri, codeChallenge, state, create: prompt === 'create', prompt } };
}

/** The redirect URI with the given parameters added (keeps any query it already has). */
export function redirectWith(redirectUri: string, params: Record<string, string | undefined>): string {
  const url = new URL(redirectUri);
  for (const [key, value] of Object.entries(params)) if (value !== undefined) url.searchParams.set(key, value);
  return url.toString();
}

/** BASE64URL(SHA256(ASCII(code_verifier))), RFC 7636 4.2. */
export function s256(verifier: string): string {
  return createHash('sha256').update(verifier, 'ascii').digest('base64url');
}

export function isValidVerifier(verifier: string): boolean {
  return VERIFIER_PATTERN.test(verifier);
}

/** A stored code as the redemption decision needs it. */
export interface AuthorizationCodeRecord {
  clientId: string;
  redirectUri: string;
  codeChallenge: string;
  userId: string;
  familyId: string;
  expiresAtMs: number;
  usedAtMs: number | null;
}

export interface CodePresentation {
  clientId: string;
  redirectUri: string;
  codeVerifier: string;
}

export type CodeDecision =
  | { action: 'issue' }
  | { action: 'reject'; reason: 'unknown' | 'expired' | 'wrong_client' | 'wrong_redirect_uri' | 'pkce_mismatch' }
  /** The code came back after it was redeemed: someone else holds a copy. Revoke what it issued. */
  | { action: 'revoke_family'; reason: 'reused' };

export function decideCodeRedemption(record: AuthorizationCodeRecord | undefined, presented: CodePresentation, nowMs: number): CodeDecision {
  if (record === undefined) return { action: 'reject', reason: 'unknown' };
  if (record.usedAtMs !== null) return { action: 'revoke_family', reason: 'reused' };
  if (record.expiresAtMs <= nowMs) return { action: 'reject', reason: 'expired' };
  if (record.clientId !== presented.clientId) return { action: 'reject', reason: 'wrong_client' };
  if (record.redirectUri !== presented.redirectUri) return { action: 'reject', reason: 'wrong_redirect_uri' };
  if (!isValidVerifier(presented.codeVerifier) || s256(presented.codeVerifier) !== record.codeChallenge) return { action: 'reject', reason: 'pkce_mismatch' };
  return { action: 'issue' };
}
