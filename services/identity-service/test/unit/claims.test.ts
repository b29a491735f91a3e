import { describe, expect, it } from 'vitest';
import { accessTokenClaims, grantedScope } from '../../src/domain/claims.js';

const settings = { issuer: 'http://idp', audience: 'wallet-api', ttlSeconds: 900 };

describe('access token claims', () => {
  it('carries iss, aud, sub = user id, iat/exp in seconds, jti, roles and username for a user', () => {
    const claims = accessTokenClaims({ kind: 'user', userId: 'u-1', username: 'alice', roles: ['customer'] }, 'wallet', settings, 1_700_000_000_999, 'j-1');
    expect(claims).toEqual({
      iss: 'http://idp', aud: 'wallet-api', sub: 'u-1', iat: 1_700_000_000, exp: 1_700_000_900, jti: 'j-1',
      roles: ['customer'], scope: 'wallet', username: 'alice',
    });
  });

  it('names the first-party client of a user token when it identified itself', () => {
    const claims = accessTokenClaims({ kind: 'user', userId: 'u', username: 'a', roles: ['admin'], clientId: 'wallet-cli' }, 'wallet', settings, 0, 'j');
    expect(claims.client_id).toBe('wallet-cli');
  });

  it('uses the client id as subject of a client token, without a username', () => {
    const claims = accessTokenClaims({ kind: 'client', clientId: 'back-office', roles: ['admin'], scopes: ['x'] }, 'x', settings, 0, 'j');
    expect(claims.sub).toBe('back-office');
    expect(claims.client_id).toBe('back-office');
    expect(claims.username).toBeUndefined();
    expect(claims.roles).toEqual(['admin']);
  });
});

describe('granted scope', () => {
  it('grants everything allowed when nothing is asked', () => {
    expect(grantedScope(undefined, ['a', 'b'])).toBe('a b');
    expect(grantedScope('  ', ['a'])).toBe('a');
  });
  it('grants exactly what was asked when allowed, refuses otherwise', () => {
    expect(grantedScope('b', ['a', 'b'])).toBe('b');
    expect(grantedScope('b b a', ['a', 'b'])).toBe('b a');
    expect(grantedScope('a c', ['a', 'b'])).toBeUndefined();
  });
});
