// How the load generators authenticate: like real clients of the wallet.
// Users register (POST /auth/register), each load worker logs in once
// (OAuth 2.0 password grant at the token endpoint found through OpenID
// discovery, or the gateway's /auth/token), sends its access token as
// `Authorization: Bearer` on every call and swaps it (refresh_token grant,
// which rotates the refresh token) once two thirds of its lifetime have
// passed, so a run longer than the token lifetime (the 30-minute soak, the
// full chaos run) never sends an expired token. Tokens and passwords are
// never logged. Used by the bench (bench/) and the chaos workload (scripts/chaos/).

/** One password for every load user: long enough for the identity-service's 12-128 rule. */
export const LOAD_USER_PASSWORD = 'wallet-load-generator-password-2026';
const REQUEST_TIMEOUT_MS = 30_000;
const ATTEMPTS_MAX = 10;
const RETRY_DELAY_MS_MIN = 200;
const RETRY_DELAY_MS_MAX = 5_000;
/** A token is swapped once this share of its lifetime has passed. */
const REFRESH_AT_SHARE = 2 / 3;
const REFRESH_CHECK_MS = 5_000;
const REFRESH_CONCURRENCY = 4;

export class AuthError extends Error {}

/** The `sub` of our own access token (payload only: the services verify signatures, not this client). */
export function subjectOf(accessToken) {
  const payload = JSON.parse(Buffer.from(accessToken.split('.')[1] ?? '', 'base64url').toString('utf8'));
  if (typeof payload.sub !== 'string') throw new AuthError('access token without sub');
  return payload.sub;
}

/** One POST; never throws: a network failure is an answer without a status. Bodies are never logged. */
async function post(url, { json, form }) {
  const sentAtMs = Date.now();
  const timed = (answer) => ({ ...answer, sentAtMs, answeredAtMs: Date.now() });
  try {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': json ? 'application/json' : 'application/x-www-form-urlencoded' },
      body: json ? JSON.stringify(json) : new URLSearchParams(form).toString(),
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
    const text = await res.text();
    let body;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      body = undefined;
    }
    return timed({ status: res.status, body, retryAfterS: Number(res.headers.get('retry-after')) || undefined });
  } catch (error) {
    return timed({ error: String(error?.cause?.code ?? error?.name ?? 'error') });
  }
}

const transient = (answer) => answer.status === undefined || answer.status === 429 || answer.status >= 500;
const describe = (answer) => (answer.status === undefined ? answer.error : `${answer.status} ${answer.body?.error ?? answer.body?.code ?? ''}`.trim());

/** Retries transient answers (overloaded argon2 queue 503, 429, a restarting service) with backoff. */
async function withRetries(send, onAnswer) {
  for (let attempt = 0; ; attempt++) {
    const answer = await send();
    onAnswer?.(answer);
    if (!transient(answer) || attempt + 1 >= ATTEMPTS_MAX) return answer;
    const backoffMs = Math.min(RETRY_DELAY_MS_MAX, RETRY_DELAY_MS_MIN * 2 ** attempt);
    await new Promise((resolve) => setTimeout(resolve, Math.max(backoffMs, (answer.retryAfterS ?? 0) * 1000)));
  }
}

/**
 * Where a client logs in. `issuer`: the token endpoint from the issuer's discovery
 * document and the identity-service's own /auth/register; `gatewayUrl`: the
 * gateway's /auth/* (which forwards to the identity-service).
 */
export async function resolveAuthEndpoints({ issuer, gatewayUrl }) {
  if (gatewayUrl) return { registerUrl: `${gatewayUrl}/auth/register`, tokenUrl: `${gatewayUrl}/auth/token` };
  const res = await fetch(`${issuer}/.well-known/openid-configuration`, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
  if (!res.ok) throw new AuthError(`discovery at ${issuer}: ${res.status}`);
  const metadata = await res.json();
  if (typeof metadata.token_endpoint !== 'string') throw new AuthError(`discovery at ${issuer}: no token_endpoint`);
  return { registerUrl: `${issuer}/auth/register`, tokenUrl: metadata.token_endpoint };
}

/** Registers a user; an existing one (409, a rerun against the same system) is logged in instead. Returns its user id. */
export async function registerUser(endpoints, username, password = LOAD_USER_PASSWORD) {
  const answer = await withRetries(() => post(endpoints.registerUrl, { json: { username, password } }));
  if (answer.status === 201) return answer.body.userId;
  if (answer.status === 409) {
    const session = new Session(endpoints, username, password);
    await session.login();
    return session.userId;
  }
  throw new AuthError(`register ${username}: ${describe(answer)}`);
}

/** Registers `usernames` a few at a time (each costs an argon2 hash); returns their user ids in order. */
export async function registerUsers(endpoints, usernames, { concurrency = 4, password = LOAD_USER_PASSWORD } = {}) {
  const ids = new Array(usernames.length);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < usernames.length; i = next++) ids[i] = await registerUser(endpoints, usernames[i], password);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, usernames.length) }, worker));
  return ids;
}

/** One logged-in client: its tokens and when to swap them. */
export class Session {
  /** @param {{ tokenUrl: string }} endpoints @param {(answer: object, grant: string) => void} [onAnswer] every token answer (chaos records them) */
  constructor(endpoints, username, password = LOAD_USER_PASSWORD, onAnswer) {
    this.endpoints = endpoints;
    this.username = username;
    this.password = password;
    this.onAnswer = onAnswer;
    this.accessToken = undefined;
    this.refreshToken = undefined;
    this.issuedAtMs = 0;
    this.expiresAtMs = 0;
    this.logins = 0;
    this.refreshes = 0;
    this.refreshing = undefined;
  }

  get authorization() {
    if (!this.accessToken) throw new AuthError(`${this.username}: not logged in`);
    return `Bearer ${this.accessToken}`;
  }

  get userId() {
    return subjectOf(this.accessToken);
  }

  #accept(answer, grant) {
    if (answer.status !== 200 || typeof answer.body?.access_token !== 'string') {
      throw new AuthError(`${grant} grant for ${this.username}: ${describe(answer)}`);
    }
    this.accessToken = answer.body.access_token;
    this.refreshToken = answer.body.refresh_token ?? this.refreshToken;
    this.issuedAtMs = Date.now();
    this.expiresAtMs = this.issuedAtMs + Number(answer.body.expires_in) * 1000;
  }

  async login() {
    const form = { grant_type: 'password', username: this.username, password: this.password };
    const answer = await withRetries(() => post(this.endpoints.tokenUrl, { form }), (a) => this.onAnswer?.(a, 'password'));
    this.#accept(answer, 'password');
    this.logins += 1;
  }

  /** True once two thirds of the token's lifetime have passed. */
  dueForRefresh(nowMs = Date.now()) {
    return nowMs >= this.issuedAtMs + (this.expiresAtMs - this.issuedAtMs) * REFRESH_AT_SHARE;
  }

  /**
   * Swaps the tokens (refresh grant); a refused refresh token (revoked, expired,
   * or rotated by a request whose answer was lost) means a fresh login. One at a
   * time per session: a second caller shares the first one's exchange.
   */
  refresh() {
    this.refreshing ??= this.#refresh().finally(() => {
      this.refreshing = undefined;
    });
    return this.refreshing;
  }

  async #refresh() {
    if (!this.refreshToken) return this.login();
    const form = { grant_type: 'refresh_token', refresh_token: this.refreshToken };
    const answer = await withRetries(() => post(this.endpoints.tokenUrl, { form }), (a) => this.onAnswer?.(a, 'refresh_token'));
    if (answer.status === 400 && answer.body?.error === 'invalid_grant') return this.login();
    this.#accept(answer, 'refresh_token');
    this.refreshes += 1;
  }
}

/**
 * Sessions by key, logged in a few at a time, and a background loop that
 * refreshes every session that is due (the old token stays valid meanwhile).
 */
export class SessionPool {
  /** @param {{ tokenUrl: string, registerUrl: string }} endpoints */
  constructor(endpoints, { password = LOAD_USER_PASSWORD, log = () => {}, onAnswer } = {}) {
    this.endpoints = endpoints;
    this.password = password;
    this.log = log;
    this.onAnswer = onAnswer;
    this.sessions = new Map();
    this.refreshFailures = 0;
    this.loginMs = 0;
    this.timer = undefined;
    this.refreshing = false;
  }

  has(key) {
    return this.sessions.has(key);
  }

  get(key) {
    const session = this.sessions.get(key);
    if (!session) throw new AuthError(`no session ${key}`);
    return session;
  }

  /** Logs in every missing [key, username] (each login costs an argon2 hash at the issuer). */
  async ensure(entries, { concurrency = 4 } = {}) {
    const missing = entries.filter(([key]) => !this.sessions.has(key));
    if (missing.length === 0) return 0;
    const t0 = Date.now();
    let next = 0;
    const worker = async () => {
      for (let i = next++; i < missing.length; i = next++) {
        const [key, username] = missing[i];
        const session = new Session(this.endpoints, username, this.password, this.onAnswer);
        await session.login();
        this.sessions.set(key, session);
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, missing.length) }, worker));
    this.loginMs += Date.now() - t0;
    return missing.length;
  }

  /** Refreshes due sessions every few seconds until stop(). */
  startRefresher(intervalMs = REFRESH_CHECK_MS) {
    this.timer ??= setInterval(() => void this.refreshDue(), intervalMs);
    this.timer.unref?.();
  }

  async refreshDue() {
    if (this.refreshing) return;
    this.refreshing = true;
    try {
      const due = [...this.sessions.values()].filter((s) => s.dueForRefresh());
      let next = 0;
      const worker = async () => {
        for (let i = next++; i < due.length; i = next++) {
          await due[i].refresh().catch((error) => {
            // The old token stays valid for a third of its lifetime: the next round retries.
            this.refreshFailures += 1;
            this.log(`token refresh for ${due[i].username} failed: ${error.message}`);
          });
        }
      };
      await Promise.all(Array.from({ length: Math.min(REFRESH_CONCURRENCY, due.length) }, worker));
    } finally {
      this.refreshing = false;
    }
  }

  stop() {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  stats() {
    const all = [...this.sessions.values()];
    return {
      sessions: all.length,
      logins: all.reduce((s, x) => s + x.logins, 0),
      refreshes: all.reduce((s, x) => s + x.refreshes, 0),
      refreshFailures: this.refreshFailures,
      loginS: Math.round(this.loginMs / 100) / 10,
      tokenLifetimeS: all[0] ? Math.round((all[0].expiresAtMs - all[0].issuedAtMs) / 1000) : undefined,
    };
  }
}
