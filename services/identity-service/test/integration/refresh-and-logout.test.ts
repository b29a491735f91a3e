import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEV_USERS } from '../../src/app/users.js';
import { passwordLogin, postForm, postJson, refresh, startHarness, type Harness } from '../support/harness.js';

const alice = DEV_USERS[0];

describe('refresh token rotation, reuse detection and logout', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ IDENTITY_SEED_DEV_USERS: 'true' });
  });
  afterAll(async () => h?.stop());

  const login = async () => String((await passwordLogin(h, alice.username, alice.password)).body.refresh_token);

  it('rotates on use: a new access and refresh token, Cache-Control: no-store', async () => {
    const first = await login();
    const res = await refresh(h, first);
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.body).toMatchObject({ token_type: 'Bearer', expires_in: 900 });
    expect(res.body.refresh_token).toEqual(expect.any(String));
    expect(res.body.refresh_token).not.toBe(first);
  });

  it('reuse of a rotated token answers invalid_grant and revokes the whole family', async () => {
    const first = await login();
    const second = String((await refresh(h, first)).body.refresh_token);
    const reuse = await refresh(h, first);
    expect(reuse.status).toBe(400);
    expect(reuse.body.error).toBe('invalid_grant');
    // The legitimate holder's newer token died with the family.
    const afterReuse = await refresh(h, second);
    expect(afterReuse.status).toBe(400);
    expect(afterReuse.body.error).toBe('invalid_grant');
    // Another login's family is untouched.
    expect((await refresh(h, await login())).status).toBe(200);
  });

  it('two concurrent exchanges of one token: exactly one succeeds', async () => {
    const token = await login();
    const results = await Promise.all([refresh(h, token), refresh(h, token)]);
    expect(results.map((r) => r.status).sort()).toEqual([200, 400]);
  });

  it('answers invalid_grant for an unknown or expired refresh token', async () => {
    expect((await refresh(h, 'not-a-token')).body.error).toBe('invalid_grant');
    const token = await login();
    h.clock.advance(31 * 24 * 3_600_000);
    try {
      expect((await refresh(h, token)).body.error).toBe('invalid_grant');
    } finally {
      h.clock.advance(-31 * 24 * 3_600_000);
    }
  });

  it('a refresh token issued to a client works only for that client', async () => {
    const res = await passwordLogin(h, alice.username, alice.password, { client_id: 'wallet-cli' });
    const token = String(res.body.refresh_token);
    const other = await postForm(`${h.url}/auth/token`, { grant_type: 'refresh_token', refresh_token: token, client_id: 'swagger-ui' });
    expect(other.body.error).toBe('invalid_grant');
    const same = await postForm(`${h.url}/auth/token`, { grant_type: 'refresh_token', refresh_token: token, client_id: 'wallet-cli' });
    expect(same.status).toBe(200);
  });

  it('logout (form or JSON) answers 204 and revokes the token and its family', async () => {
    const first = await login();
    const second = String((await refresh(h, first)).body.refresh_token);
    const res = await postForm(`${h.url}/auth/logout`, { refresh_token: second });
    expect(res.status).toBe(204);
    expect((await refresh(h, second)).body.error).toBe('invalid_grant');
    const viaJson = await login();
    expect((await postJson(`${h.url}/auth/logout`, { refresh_token: viaJson })).status).toBe(204);
    expect((await refresh(h, viaJson)).body.error).toBe('invalid_grant');
  });

  it('logout of an unknown token answers 204 and without one answers 400', async () => {
    expect((await postJson(`${h.url}/auth/logout`, { refresh_token: 'unknown' })).status).toBe(204);
    const missing = await postJson(`${h.url}/auth/logout`, {});
    expect(missing.status).toBe(400);
    expect(missing.body.code).toBe('VALIDATION_ERROR');
  });
});
