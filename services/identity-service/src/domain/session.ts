// The identity provider's browser session (OIDC Core 3.1.2.1 "prompt"): whether
// a presented session may sign the user in, and what GET /authorize does with
// or without one. Pure (hashing is computation, not I/O).
import { createHash } from 'node:crypto';

/** 256 random bits, base64url: 43 characters. Anything else is not a session id of ours. */
const SESSION_ID_PATTERN = /^[A-Za-z0-9_-]{43}$/;

export function isSessionId(value: string): boolean {
  return SESSION_ID_PATTERN.test(value);
}

/** Session ids are stored as SHA-256 only (high entropy: a fast hash suffices, as for refresh tokens). */
export function hashSessionId(id: string): Buffer {
  return createHash('sha256').update(id, 'ascii').digest();
}

export interface SessionPolicy {
  /** From creation: the session ends then, however often it is used. */
  absoluteTtlMs: number;
  /** Without use for this long, the session ends. */
  idleTtlMs: number;
}

/** A stored session with its user's current credentials fingerprint (undefined: the user is gone). */
export interface SessionRecord {
  userId: string;
  credentialsFingerprint: Buffer;
  currentFingerprint: Buffer | undefined;
  lastUsedAtMs: number;
  expiresAtMs: number;
}

export type SessionDecision =
  | { action: 'use' }
  | { action: 'end'; reason: 'expired' | 'idle' | 'credentials_changed' }
  | { action: 'none'; reason: 'unknown' };

export function decideSession(record: SessionRecord | undefined, nowMs: number, policy: SessionPolicy): SessionDecision {
  if (record === undefined) return { action: 'none', reason: 'unknown' };
  if (record.expiresAtMs <= nowMs) return { action: 'end', reason: 'expired' };
  if (record.lastUsedAtMs + policy.idleTtlMs <= nowMs) return { action: 'end', reason: 'idle' };
  // A changed password (or a user deleted under us) ends every session it had.
  if (record.currentFingerprint === undefined || !record.currentFingerprint.equals(record.credentialsFingerprint)) {
    return { action: 'end', reason: 'credentials_changed' };
  }
  return { action: 'use' };
}

export type Prompt = 'none' | 'login' | 'create';

export type AuthorizeDecision = { action: 'code' } | { action: 'form' } | { action: 'login_required' };

/**
 * GET /authorize: a valid session issues the code at once unless the client asks for the form
 * (prompt=login or create); prompt=none never shows a form (OIDC Core 3.1.2.6: login_required).
 */
export function decideAuthorize(prompt: Prompt | undefined, hasSession: boolean): AuthorizeDecision {
  if (prompt === 'none') return hasSession ? { action: 'code' } : { action: 'login_required' };
  if (prompt === undefined && hasSession) return { action: 'code' };
  return { action: 'form' };
}
