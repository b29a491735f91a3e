// The identity provider's browser sessions: started by a sign-in on the page,
// resumed by GET /authorize, ended by sign-out, expiry, idleness or a changed
// password. The id only ever leaves here in the cookie; the store keeps its hash.
import { randomBytes } from 'node:crypto';
import { decideSession, hashSessionId, isSessionId, type SessionPolicy } from '../domain/session.js';
import type { PgSessionStore } from '../db/sessions.js';
import type { IdentityMetrics } from '../metrics.js';

export interface SessionSettings extends SessionPolicy {
  /** Sessions kept per user; older ones are ended when a new one starts. */
  perUserMax: number;
}

export interface StartedSession {
  id: string;
  expiresAtMs: number;
}

export class SessionService {
  constructor(
    private readonly store: PgSessionStore,
    private readonly settings: SessionSettings,
    private readonly metrics: IdentityMetrics,
    private readonly now: () => number,
  ) {}

  /** A new session for a user who just proved who they are; the one the browser had (if any) ends (no fixation). */
  async start(userId: string, previousId: string | undefined): Promise<StartedSession | undefined> {
    if (previousId !== undefined && isSessionId(previousId)) await this.store.delete(hashSessionId(previousId));
    const id = randomBytes(32).toString('base64url');
    const nowMs = this.now();
    const expiresAtMs = nowMs + this.settings.absoluteTtlMs;
    const inserted = await this.store.insert({ sessionHash: hashSessionId(id), userId, nowMs, expiresAtMs }, this.settings.perUserMax);
    if (!inserted) return undefined;
    this.metrics.sessions.inc({ result: 'created' });
    return { id, expiresAtMs };
  }

  /** The signed-in user of a presented session id, or undefined (a dead session is deleted). */
  async resume(id: string | undefined): Promise<{ userId: string } | undefined> {
    if (id === undefined || !isSessionId(id)) return undefined;
    const hash = hashSessionId(id);
    const record = await this.store.find(hash);
    const nowMs = this.now();
    const decision = decideSession(record, nowMs, this.settings);
    if (decision.action === 'none') return undefined;
    if (decision.action === 'end') {
      await this.store.delete(hash);
      this.metrics.sessions.inc({ result: decision.reason });
      return undefined;
    }
    await this.store.touch(hash, nowMs);
    this.metrics.sessions.inc({ result: 'resumed' });
    return { userId: record!.userId };
  }

  /** Sign-out: the session is gone whether or not it was still valid. */
  async end(id: string | undefined): Promise<void> {
    if (id === undefined || !isSessionId(id)) return;
    if (await this.store.delete(hashSessionId(id))) this.metrics.sessions.inc({ result: 'signed_out' });
  }

  /** Every session of the user (disabling a user, changing a password). */
  endAllOf(userId: string): Promise<number> {
    return this.store.deleteAllOf(userId);
  }

  purgeExpired(): Promise<number> {
    return this.store.purgeExpired(this.now(), this.settings.idleTtlMs);
  }
}
