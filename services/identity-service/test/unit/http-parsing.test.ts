import { describe, expect, it } from 'vitest';
import { OAuthError } from '../../src/domain/oauth-errors.js';
import { DuplicateParameterError, parseForm } from '../../src/http/server.js';
import { clientCredentialsOf, discoveryDocument } from '../../src/http/routes.js';

const basic = (value: string) => `Basic ${Buffer.from(value).toString('base64')}`;

describe('token endpoint request parsing', () => {
  it('parses form bodies and refuses a repeated parameter', () => {
    expect(parseForm('grant_type=password&username=a%2Bb&password=x+y')).toEqual({ grant_type: 'password', username: 'a+b', password: 'x y' });
    expect(() => parseForm('a=1&a=2')).toThrow(DuplicateParameterError);
  });

  it('does not let a form parameter named __proto__ reach the prototype', () => {
    const params = parseForm('__proto__=x&constructor=y');
    expect(Object.getPrototypeOf(params)).toBeNull();
  });

  it('reads client credentials from Basic (form-encoded parts) or the body', () => {
    expect(clientCredentialsOf(basic('my%20client:s%3Acret'), {})).toEqual({ clientId: 'my client', clientSecret: 's:cret' });
    expect(clientCredentialsOf(undefined, { client_id: 'c', client_secret: 's' })).toEqual({ clientId: 'c', clientSecret: 's' });
  });

  it('refuses two client authentication methods and malformed Basic', () => {
    expect(() => clientCredentialsOf(basic('c:s'), { client_secret: 's' })).toThrow(OAuthError);
    expect(() => clientCredentialsOf('Basic !!!', {})).toThrow(expect.objectContaining({ code: 'invalid_client' }));
    expect(() => clientCredentialsOf(basic('no-colon'), {})).toThrow(expect.objectContaining({ code: 'invalid_client' }));
    expect(() => clientCredentialsOf(basic('c:%E0%A4%A'), {})).toThrow(expect.objectContaining({ code: 'invalid_client' }));
  });

  it('describes the issuer, JWKS and token endpoints under the issuer URL', () => {
    const doc = discoveryDocument('https://id.example', ['ES256']);
    expect(doc).toMatchObject({ issuer: 'https://id.example', jwks_uri: 'https://id.example/.well-known/jwks.json', token_endpoint: 'https://id.example/auth/token' });
  });
});
