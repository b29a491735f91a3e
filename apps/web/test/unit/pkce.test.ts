import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { authorizeUrl, newPendingSignIn, readCallback, s256Challenge } from '../../src/lib/pkce';

describe('PKCE sign-in', () => {
  it('computes the S256 challenge of RFC 7636 appendix B', async () => {
    expect(await s256Challenge('dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk')).toBe('E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM');
  });

  it('makes a fresh 43-character verifier and state per sign-in', async () => {
    const a = newPendingSignIn('http://localhost:8080/app/callback', '/app/');
    const b = newPendingSignIn('http://localhost:8080/app/callback', '/app/');
    expect(a.verifier).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(a.verifier).not.toBe(b.verifier);
    expect(a.state).not.toBe(b.state);
    const expected = createHash('sha256').update(a.verifier).digest('base64url');
    expect(await s256Challenge(a.verifier)).toBe(expected);
  });

  it('builds the authorization request of the code flow with S256', () => {
    const url = new URL(
      authorizeUrl({ authorizeEndpoint: '/auth/authorize', clientId: 'wallet-web', redirectUri: 'http://localhost:8080/app/callback', challenge: 'c', state: 's', prompt: 'create' }, 'http://localhost:8080'),
    );
    expect(url.pathname).toBe('/auth/authorize');
    expect(Object.fromEntries(url.searchParams)).toEqual({
      response_type: 'code',
      client_id: 'wallet-web',
      redirect_uri: 'http://localhost:8080/app/callback',
      code_challenge: 'c',
      code_challenge_method: 'S256',
      state: 's',
      prompt: 'create',
    });
  });

  it('accepts a callback only with the state this tab sent', () => {
    const pending = { verifier: 'v', state: 'abc', redirectUri: 'r', returnTo: '/app/' };
    expect(readCallback('?code=xyz&state=abc', pending)).toEqual({ kind: 'code', code: 'xyz' });
    expect(readCallback('?code=xyz&state=other', pending).kind).toBe('error');
    expect(readCallback('?code=xyz&state=abc', undefined).kind).toBe('error');
    expect(readCallback('?error=access_denied&state=abc', pending)).toEqual({ kind: 'error', message: 'Sign-in failed (access_denied).' });
    expect(readCallback('?state=abc', pending).kind).toBe('error');
  });
});
