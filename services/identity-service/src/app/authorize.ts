// The authorization endpoint's use cases: sign in or sign up on the page, then
// a single-use code for the client's redirect URI. HTTP and HTML live in http/.
import { checkAuthorizationRequest, redirectWith, type AuthorizationRequest, type AuthorizationRequestCheck, type CodeClient } from '../domain/authorization-code.js';
import type { TokenService } from './tokens.js';
import type { UserService } from './users.js';

export class AuthorizeService {
  constructor(
    private readonly tokens: TokenService,
    private readonly users: UserService,
    private readonly clients: readonly CodeClient[],
  ) {}

  check(params: Record<string, unknown>): AuthorizationRequestCheck {
    return checkAuthorizationRequest(params, this.clients);
  }

  /** Where the browser goes after a correct password: redirect_uri?code=…&state=…. Throws like the password grant. */
  async signIn(request: AuthorizationRequest, username: string, password: string): Promise<string> {
    const user = await this.tokens.authenticateUser(username, password);
    return this.codeRedirect(request, user.userId);
  }

  /** A new customer, signed in at once. Throws RegistrationInvalidError or UsernameTakenError. */
  async signUp(request: AuthorizationRequest, username: string, password: string): Promise<string> {
    const created = await this.users.register({ username, password });
    return this.codeRedirect(request, created.userId);
  }

  private async codeRedirect(request: AuthorizationRequest, userId: string): Promise<string> {
    const code = await this.tokens.issueAuthorizationCode(request, userId);
    return redirectWith(request.redirectUri, { code, state: request.state });
  }
}
