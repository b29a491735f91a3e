// OpenID Connect RP-Initiated Logout 1.0 (section 2-3): where the browser goes
// after the sign-out. A redirect only to a URI registered for the named client,
// compared exactly; anything else ends the session and shows a page instead.
import { STATE_CHARS_MAX } from './authorization-code.js';

/** A client that may ask to come back after sign-out, with its exact URIs. */
export interface LogoutClient {
  clientId: string;
  postLogoutRedirectUris: readonly string[];
}

export type LogoutRequestCheck =
  | { kind: 'redirect'; redirectUri: string; state: string | undefined }
  | { kind: 'page' }
  /** Well-formed, but it may not send the browser back: the session still ends (the user asked to sign out). */
  | { kind: 'invalid'; message: string }
  /** Not a request the contract allows (repeated or too long): refused, the session left as it was. */
  | { kind: 'malformed'; message: string };

const single = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);

/** The contract's bounds on the query (openapi endSession). */
const PARAM_CHARS_MAX: Readonly<Record<string, number>> = { client_id: 64, post_logout_redirect_uri: 512, state: STATE_CHARS_MAX };

export function checkLogoutRequest(params: Record<string, unknown>, clients: readonly LogoutClient[]): LogoutRequestCheck {
  for (const [name, charsMax] of Object.entries(PARAM_CHARS_MAX)) {
    const value = params[name];
    if (value === undefined) continue;
    const text = single(value);
    if (text === undefined || text.length > charsMax) return { kind: 'malformed', message: `${name} must be one value of at most ${charsMax} characters.` };
  }
  const redirectUri = params.post_logout_redirect_uri;
  if (redirectUri === undefined) return { kind: 'page' };
  const uri = single(redirectUri);
  const client = clients.find((c) => c.clientId === single(params.client_id));
  // Without an ID token hint the client_id is what the URI is checked against (RP-Initiated Logout 3).
  if (!client) return { kind: 'invalid', message: 'Unknown client: this sign-out link cannot send you back.' };
  if (uri === undefined || !client.postLogoutRedirectUris.includes(uri)) {
    return { kind: 'invalid', message: 'The address to return to is not registered for this client.' };
  }
  return { kind: 'redirect', redirectUri: uri, state: single(params.state) };
}
