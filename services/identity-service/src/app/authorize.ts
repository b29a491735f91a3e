// The authorization endpoint's use cases: sign in or sign up on the page (which
// starts an identity-provider session), resume a session without the form, then
// a single-use code for the client's redirect URI; and sign-out (RP-Initiated
// Logout). HTTP, cookies and HTML live in http/.
import { checkAuthorizationRequest, redirectWith, type AuthorizationRequest, type AuthorizationRequestCheck, type CodeClient } from '../domain/authorization-code.js';
import { checkLogoutRequest, type LogoutClient, type LogoutRequestCheck } from '../domain/logout.js';
import { decideAuthorize } from '../domain/session.js';
import type { SessionService, StartedSession } from './sessions.js';
import type { TokenService } from './tokens.js';
import type { UserService } from './users.js';

export type WebClient = CodeClient & LogoutClient;

/** Where the browser goes after a sign-in, and the session that sign-in started (undefined: none could be). */
export interface SignedIn {
  location: string;
  session: StartedSession | undefined;
}

/** GET /authorize with what the browser presented: a redirect (a code or login_required), or the form. */
export type SessionAuthorize = { kind: 'redirect'; location: string; sessionValid: boolean } | { kind: 'form'; sessionValid: boolean };

export class AuthorizeService {
  constructor(
    private readonly tokens: TokenService,
    private readonly users: UserService,
    private readonly sessions: SessionService,
    private readonly clients: readonly WebClient[],
  ) {}

  check(params: Record<string, unknown>): AuthorizationRequestCheck {
    return checkAuthorizationRequest(params, this.clients);
  }

  checkLogout(params: Record<string, unknown>): LogoutRequestCheck {
    return checkLogoutRequest(params, this.clients);
  }

  /** A valid session issues the code at once (unless prompt asks for the form); prompt=none never shows one. */
  async withSession(request: AuthorizationRequest, sessionId: string | undefined): Promise<SessionAuthorize> {
    const session = await this.sessions.resume(sessionId);
    const decision = decideAuthorize(request.prompt, session !== undefined);
    const sessionValid = session !== undefined;
    if (decision.action === 'form') return { kind: 'form', sessionValid };
    if (decision.action === 'login_required') {
      const location = redirectWith(request.redirectUri, { error: 'login_required', error_description: 'no signed-in session', state: request.state });
      return { kind: 'redirect', location, sessionValid };
    }
    return { kind: 'redirect', location: await this.codeRedirect(request, session!.userId), sessionValid };
  }

  /** Where the browser goes after a correct password: redirect_uri?code=…&state=…. Throws like the password grant. */
  async signIn(request: AuthorizationRequest, username: string, password: string, previousSessionId: string | undefined): Promise<SignedIn> {
    const user = await this.tokens.authenticateUser(username, password);
    return this.signedIn(request, user.userId, previousSessionId);
  }

  /** A new customer, signed in at once. Throws RegistrationInvalidError or UsernameTakenError. */
  async signUp(request: AuthorizationRequest, username: string, password: string, previousSessionId: string | undefined): Promise<SignedIn> {
    const created = await this.users.register({ username, password });
    return this.signedIn(request, created.userId, previousSessionId);
  }

  /** Ends the browser's session (if any); the caller clears the cookie either way. */
  signOut(sessionId: string | undefined): Promise<void> {
    return this.sessions.end(sessionId);
  }

  private async signedIn(request: AuthorizationRequest, userId: string, previousSessionId: string | undefined): Promise<SignedIn> {
    const session = await this.sessions.start(userId, previousSessionId);
    return { location: await this.codeRedirect(request, userId), session };
  }

  private async codeRedirect(request: AuthorizationRequest, userId: string): Promise<string> {
    const code = await this.tokens.issueAuthorizationCode(request, userId);
    return redirectWith(request.redirectUri, { code, state: request.state });
  }
}
