import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEV_CLIENT, DEV_USERS } from '../../src/app/users.js';
import { clientToken, get, passwordLogin, postForm, postJson, refresh, register, startHarness, type Harness } from '../support/harness.js';

describe('secrets never appear in logs', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ IDENTITY_SEED_DEV_USERS: 'true', IDENTITY_LOGIN_FAILURES_MAX: '2' }, { logLevel: 'trace' });
  });
  afterAll(async () => h?.stop());

  it('logs no password, access token, refresh token or client secret across every flow, at trace level', async () => {
    const secrets: string[] = [DEV_CLIENT.clientSecret, ...DEV_USERS.map((u) => u.password)];
    const newPassword = 'judy-secret-password-1';
    secrets.push(newPassword);
    await register(h, 'judy', newPassword);
    await register(h, 'judy', newPassword); // 409
    await postJson(`${h.url}/auth/register`, { username: 'J', password: 'short-secret' }); // 400
    secrets.push('short-secret');
    const login = await passwordLogin(h, 'judy', newPassword);
    const access = String(login.body.access_token);
    const refreshToken = String(login.body.refresh_token);
    secrets.push(access, refreshToken);
    const rotated = await refresh(h, refreshToken);
    secrets.push(String(rotated.body.access_token), String(rotated.body.refresh_token));
    await refresh(h, refreshToken); // reuse
    const wrong = 'wrong-password-for-alice';
    secrets.push(wrong);
    for (let i = 0; i < 3; i += 1) await passwordLogin(h, 'alice', wrong); // then locked
    const client = await clientToken(h, DEV_CLIENT.clientId, DEV_CLIENT.clientSecret);
    secrets.push(String(client.body.access_token));
    await clientToken(h, DEV_CLIENT.clientId, 'wrong-client-secret-xyz');
    secrets.push('wrong-client-secret-xyz');
    const basic = Buffer.from(`${DEV_CLIENT.clientId}:${DEV_CLIENT.clientSecret}`).toString('base64');
    secrets.push(basic);
    await postForm(`${h.url}/auth/token`, { grant_type: 'client_credentials' }, { authorization: `Basic ${basic}` });
    await get(`${h.url}/users/${DEV_USERS[0].userId}`, { authorization: `Bearer ${String(client.body.access_token)}` });
    await get(`${h.url}/users/${DEV_USERS[0].userId}?password=${encodeURIComponent(newPassword)}`, { authorization: `Bearer ${access}` });
    await postForm(`${h.url}/auth/logout`, { refresh_token: String(rotated.body.refresh_token) });
    expect(h.logs.length).toBeGreaterThan(10);
    for (const secret of secrets) {
      const leaked = h.logs.find((line) => line.includes(secret));
      expect(leaked, `a secret (${secret.length} chars) appears in a log line`).toBeUndefined();
    }
  });
});
