// Server-rendered sign-in and sign-up pages of the authorization endpoint. No
// script at all; the one style block is allowed by its hash, so the CSP needs
// no 'unsafe-inline'. Every value written into the page is HTML-escaped; a
// password is never written back.
import { createHash } from 'node:crypto';
import type { AuthorizationRequest } from '../domain/authorization-code.js';
import type { FieldError } from '../domain/credentials.js';
import { PASSWORD_CHARS_MAX, PASSWORD_CHARS_MIN } from '../domain/credentials.js';

export const AUTHORIZE_ROUTE = '/auth/authorize';

const STYLE = `
*{box-sizing:border-box}
body{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;background:#f4f6f8;color:#1b1f24}
main{max-width:24rem;margin:3rem auto;padding:2rem;background:#fff;border-radius:.5rem;box-shadow:0 1px 3px rgba(0,0,0,.15)}
h1{font-size:1.5rem;margin:0 0 1rem}
label{display:block;font-weight:600;margin:1rem 0 .25rem}
input{width:100%;padding:.6rem;font:inherit;border:1px solid #6b7480;border-radius:.25rem}
input:focus{outline:3px solid #0b5cd5;outline-offset:1px}
.hint{font-size:.875rem;color:#4a525c;margin:.25rem 0 0}
.error{color:#a4000f;font-weight:600}
[role=alert]{background:#fdecee;border:1px solid #a4000f;padding:.75rem;border-radius:.25rem;color:#7a000b}
button{margin-top:1.5rem;width:100%;padding:.7rem;font:inherit;font-weight:600;color:#fff;background:#0b5cd5;border:0;border-radius:.25rem;cursor:pointer}
button:focus{outline:3px solid #1b1f24;outline-offset:2px}
a{color:#0b4fb8}
p.switch{margin-top:1.5rem;text-align:center}
`;

const STYLE_HASH = createHash('sha256').update(STYLE, 'utf8').digest('base64');

/** The page's Content-Security-Policy: nothing but its own style block; the form posts here (and follows the redirect to the client). */
export function pageCsp(formTargets: readonly string[] = []): string {
  return [
    "default-src 'none'",
    `style-src 'sha256-${STYLE_HASH}'`,
    "img-src 'none'",
    "base-uri 'none'",
    // Browsers check form-action on the redirect after the POST too: the client's origin must be allowed.
    `form-action 'self'${formTargets.map((origin) => ` ${origin}`).join('')}`,
    "frame-ancestors 'none'",
  ].join('; ');
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => ESCAPES[c] ?? c);
}

function document(title: string, body: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${escapeHtml(title)} · E-Wallet</title>
<style>${STYLE}</style>
</head>
<body>
<main>
${body}
</main>
</body>
</html>
`;
}

/** The authorization request's parameters, as hidden fields or as a query string. */
function requestParams(request: AuthorizationRequest): [string, string][] {
  const params: [string, string][] = [
    ['response_type', 'code'],
    ['client_id', request.clientId],
    ['redirect_uri', request.redirectUri],
    ['code_challenge', request.codeChallenge],
    ['code_challenge_method', 'S256'],
  ];
  if (request.state !== undefined) params.push(['state', request.state]);
  return params;
}

export interface PageOptions {
  mode: 'sign-in' | 'sign-up';
  request: AuthorizationRequest;
  username?: string;
  /** A message about the whole form (wrong password, locked...). */
  message?: string;
  fieldErrors?: readonly FieldError[];
}

function fieldError(errors: readonly FieldError[] | undefined, field: string): string {
  const error = errors?.find((e) => e.field === field);
  return error ? `<p class="error" id="${field}-error">${escapeHtml(`${field === 'username' ? 'Username' : 'Password'} ${error.message}.`)}</p>` : '';
}

function described(errors: readonly FieldError[] | undefined, field: string, hintId?: string): string {
  const ids = [hintId, errors?.some((e) => e.field === field) ? `${field}-error` : undefined].filter((id) => id !== undefined);
  const invalid = errors?.some((e) => e.field === field) ? ' aria-invalid="true"' : '';
  return ids.length > 0 ? ` aria-describedby="${ids.join(' ')}"${invalid}` : invalid;
}

export function renderAuthorizePage(options: PageOptions): string {
  const { mode, request, fieldErrors } = options;
  const signUp = mode === 'sign-up';
  const title = signUp ? 'Create your wallet account' : 'Sign in to your wallet';
  const hidden = requestParams(request).map(([name, value]) => `<input type="hidden" name="${name}" value="${escapeHtml(value)}">`);
  if (signUp) hidden.push('<input type="hidden" name="action" value="register">');
  const query = new URLSearchParams(requestParams(request));
  if (!signUp) query.set('prompt', 'create');
  const switchLink = signUp
    ? `Already have an account? <a href="${AUTHORIZE_ROUTE}?${escapeHtml(query.toString())}">Sign in</a>`
    : `New here? <a href="${AUTHORIZE_ROUTE}?${escapeHtml(query.toString())}">Create an account</a>`;
  const usernameHint = signUp ? '<p class="hint" id="username-hint">3-64 characters: a-z, 0-9, ".", "_" or "-".</p>' : '';
  const passwordHint = signUp ? `<p class="hint" id="password-hint">${PASSWORD_CHARS_MIN}-${PASSWORD_CHARS_MAX} characters.</p>` : '';
  const body = `<h1>${escapeHtml(title)}</h1>
${options.message ? `<p role="alert">${escapeHtml(options.message)}</p>` : ''}
<form method="post" action="${AUTHORIZE_ROUTE}" novalidate>
${hidden.join('\n')}
<label for="username">Username</label>
<input id="username" name="username" type="text" autocomplete="username" autocapitalize="none" spellcheck="false" required maxlength="64" value="${escapeHtml(options.username ?? '')}"${described(fieldErrors, 'username', signUp ? 'username-hint' : undefined)}>
${usernameHint}${fieldError(fieldErrors, 'username')}
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="${signUp ? 'new-password' : 'current-password'}" required maxlength="${PASSWORD_CHARS_MAX}"${described(fieldErrors, 'password', signUp ? 'password-hint' : undefined)}>
${passwordHint}${fieldError(fieldErrors, 'password')}
<button type="submit">${signUp ? 'Create account' : 'Sign in'}</button>
</form>
<p class="switch">${switchLink}</p>`;
  return document(title, body);
}

/** An invalid client or redirect URI: said here, never sent anywhere (RFC 6749 4.1.2.1). */
export function renderErrorPage(message: string): string {
  return document('Sign-in problem', `<h1>This sign-in link does not work</h1>
<p role="alert">${escapeHtml(message)}</p>
<p>Go back to the wallet and start signing in again.</p>`);
}

/** After a sign-out with no registered address to return to (RP-Initiated Logout 3). */
export function renderSignedOutPage(): string {
  return document('Signed out', `<h1>You are signed out</h1>
<p>Your wallet session has ended on this browser. You can close this page.</p>`);
}
