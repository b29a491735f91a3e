import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export interface IdentityMetrics {
  /** Token requests by grant type and result (ok or the OAuth error / locked / overloaded). */
  tokenRequests: Counter<'grant' | 'result'>;
  registrations: Counter<'result'>;
  loginLocks: Counter;
  refreshTokenReuse: Counter;
  authorizationCodeReuse: Counter;
  /** Sign-in page outcomes (signed_in, registered, invalid, locked, ...). */
  authorizations: Counter<'result'>;
  keyRotations: Counter;
  /** Sign-in page sessions: created, resumed, signed_out, expired, idle, credentials_changed. */
  sessions: Counter<'result'>;
  hashQueueDepth: Gauge;
  hashRejected: Counter<'reason'>;
  hashSeconds: Histogram<'operation'>;
}

export function createIdentityMetrics(registry: Registry): IdentityMetrics {
  const registers = [registry];
  return {
    tokenRequests: new Counter({ name: 'identity_token_requests_total', help: 'Token endpoint requests by grant and result', labelNames: ['grant', 'result'], registers }),
    registrations: new Counter({ name: 'identity_registrations_total', help: 'Registrations by result', labelNames: ['result'], registers }),
    loginLocks: new Counter({ name: 'identity_login_locks_total', help: 'Usernames locked after too many failed logins', registers }),
    refreshTokenReuse: new Counter({ name: 'identity_refresh_token_reuse_total', help: 'Rotated refresh tokens presented again (family revoked)', registers }),
    authorizationCodeReuse: new Counter({ name: 'identity_authorization_code_reuse_total', help: 'Redeemed authorization codes presented again (what they issued is revoked)', registers }),
    authorizations: new Counter({ name: 'identity_authorizations_total', help: 'Sign-in and sign-up page submissions by result', labelNames: ['result'], registers }),
    keyRotations: new Counter({ name: 'identity_signing_key_rotations_total', help: 'Signing keys created by this replica', registers }),
    sessions: new Counter({ name: 'identity_sessions_total', help: 'Browser sessions of the sign-in page by event (created, resumed, signed_out, expired, idle, credentials_changed)', labelNames: ['result'], registers }),
    hashQueueDepth: new Gauge({ name: 'identity_password_hash_queue_depth', help: 'Password hash requests waiting for a slot', registers }),
    hashRejected: new Counter({ name: 'identity_password_hash_rejected_total', help: 'Password hash requests refused (queue full or wait too long)', labelNames: ['reason'], registers }),
    hashSeconds: new Histogram({
      name: 'identity_password_hash_seconds',
      help: 'argon2id hash/verify duration',
      labelNames: ['operation'],
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    }),
  };
}
