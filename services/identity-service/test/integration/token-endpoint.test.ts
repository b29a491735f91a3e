import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEV_CLIENT, DEV_USERS } from '../../src/app/users.js';
import { clientToken, passwordLogin, postForm, postJson, startHarness, testFetch, type Harness } from '../support/harness.js';

const bob = DEV_USERS[1];

describe('POST /auth/token (RFC 6749)', () => {
  let h: Harness;
  let tokenUrl: string;
  beforeAll(async () => {
    h = await startHarness({ IDENTITY_SEED_DEV_USERS: 'true' });
    tokenUrl = `${h.url}/auth/token`;
  });
  afterAll(async () => h?.stop());

  it('password grant answers 200 with a bearer access token, a refresh token and Cache-Control: no-store', async () => {
    const res = await passwordLogin(h, bob.username, bob.password);
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.body).toMatchObject({ token_type: 'Bearer', expires_in: 900, scope: 'wallet' });
    expect(String(res.body.access_token).split('.')).toHaveLength(3);
    expect(String(res.body.refresh_token)).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  it('password grant accepts a first-party public client_id and refuses an unknown one with 401 invalid_client', async () => {
    expect((await passwordLogin(h, bob.username, bob.password, { client_id: 'wallet-cli' })).status).toBe(200);
    const unknown = await passwordLogin(h, bob.username, bob.password, { client_id: 'rogue-app' });
    expect(unknown.status).toBe(401);
    expect(unknown.body.error).toBe('invalid_client');
    expect(unknown.headers.get('www-authenticate')).toMatch(/^Basic /);
  });

  it('password grant accepts a public client sent as HTTP Basic with an empty secret (Swagger UI), never a confidential one', async () => {
    const basic = (id: string): string => `Basic ${Buffer.from(`${id}:`).toString('base64')}`;
    const body = new URLSearchParams({ grant_type: 'password', username: bob.username, password: bob.password });
    const asPublic = await testFetch(tokenUrl, { method: 'POST', headers: { authorization: basic('swagger-ui') }, body });
    expect(asPublic.status).toBe(200);
    const asConfidential = await testFetch(tokenUrl, { method: 'POST', headers: { authorization: basic(DEV_CLIENT.clientId) }, body });
    expect(asConfidential.status).toBe(401);
    expect(((await asConfidential.json()) as { error: string }).error).toBe('invalid_client');
  });

  it.each([
    ['a wrong password', bob.username, 'not-bobs-password'],
    ['an unknown username', 'nobody-here', 'whatever-password'],
    ['a password shorter than any valid one', bob.username, 'short'],
    ['a username no user can have', 'NOT VALID', 'whatever-password'],
  ])('answers 400 invalid_grant for %s', async (_name, username, password) => {
    const res = await passwordLogin(h, username, password);
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ error: 'invalid_grant', error_description: 'invalid username or password' });
    expect(res.headers.get('cache-control')).toBe('no-store');
  });

  it('answers 400 unsupported_grant_type for an unknown grant and invalid_request without one', async () => {
    const unknown = await postForm(tokenUrl, { grant_type: 'urn:ietf:params:oauth:grant-type:device_code', device_code: 'x' });
    expect(unknown.status).toBe(400);
    expect(unknown.body.error).toBe('unsupported_grant_type');
    const none = await postForm(tokenUrl, { username: 'bob' });
    expect(none.status).toBe(400);
    expect(none.body.error).toBe('invalid_request');
  });

  it('answers 400 invalid_request for a JSON body, a repeated parameter or missing credentials', async () => {
    const json = await postJson(tokenUrl, { grant_type: 'password', username: bob.username, password: bob.password });
    expect(json.status).toBe(400);
    expect(json.body.error).toBe('invalid_request');
    const repeated = await postForm(tokenUrl, `grant_type=password&username=bob&username=alice&password=${bob.password}`);
    expect(repeated.status).toBe(400);
    expect(repeated.body.error).toBe('invalid_request');
    const missing = await postForm(tokenUrl, { grant_type: 'password', username: bob.username });
    expect(missing.body.error).toBe('invalid_request');
    const text = await testFetch(tokenUrl, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'hello' });
    expect(text.status).toBe(400);
    expect(((await text.json()) as { error: string }).error).toBe('invalid_request');
  });

  it('client_credentials answers 200 with the client scope and no refresh token (form and Basic authentication)', async () => {
    const form = await clientToken(h, DEV_CLIENT.clientId, DEV_CLIENT.clientSecret);
    expect(form.status).toBe(200);
    expect(form.body).toMatchObject({ token_type: 'Bearer', scope: 'identity.users.read' });
    expect(form.body.refresh_token).toBeUndefined();
    const basic = Buffer.from(`${DEV_CLIENT.clientId}:${DEV_CLIENT.clientSecret}`).toString('base64');
    const viaBasic = await postForm(tokenUrl, { grant_type: 'client_credentials' }, { authorization: `Basic ${basic}` });
    expect(viaBasic.status).toBe(200);
    expect(viaBasic.body.refresh_token).toBeUndefined();
  });

  it('client_credentials answers 401 invalid_client with WWW-Authenticate for a bad secret, an unknown client or none', async () => {
    for (const [id, secret] of [[DEV_CLIENT.clientId, 'wrong-secret-0000000'], ['no-such-client', 'whatever-secret-00']] as const) {
      const res = await clientToken(h, id, secret);
      expect(res.status).toBe(401);
      expect(res.body.error).toBe('invalid_client');
      expect(res.headers.get('www-authenticate')).toMatch(/^Basic realm="identity"/);
    }
    const basic = Buffer.from(`${DEV_CLIENT.clientId}:wrong`).toString('base64');
    const viaBasic = await postForm(tokenUrl, { grant_type: 'client_credentials' }, { authorization: `Basic ${basic}` });
    expect(viaBasic.status).toBe(401);
    expect(viaBasic.headers.get('www-authenticate')).toContain('error="invalid_client"');
    const anonymous = await postForm(tokenUrl, { grant_type: 'client_credentials' });
    expect(anonymous.status).toBe(401);
  });

  it('client_credentials answers 400 invalid_scope for a scope the client may not have', async () => {
    const res = await clientToken(h, DEV_CLIENT.clientId, DEV_CLIENT.clientSecret, { scope: 'identity.users.write' });
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('invalid_scope');
  });
});
