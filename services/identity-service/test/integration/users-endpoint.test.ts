import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEV_CLIENT, DEV_USERS } from '../../src/app/users.js';
import { clientToken, get, passwordLogin, register, startHarness, type Harness } from '../support/harness.js';

describe('GET /users/{id} (internal) and development seeding', () => {
  let h: Harness;
  let serviceToken: string;
  beforeAll(async () => {
    h = await startHarness({ IDENTITY_SEED_DEV_USERS: 'true' });
    serviceToken = String((await clientToken(h, DEV_CLIENT.clientId, DEV_CLIENT.clientSecret)).body.access_token);
  });
  afterAll(async () => h?.stop());

  it('seeds the development users with their fixed ids and roles', async () => {
    for (const user of DEV_USERS) {
      const res = await get(`${h.url}/users/${user.userId}`, { authorization: `Bearer ${serviceToken}` });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ userId: user.userId, username: user.username, roles: [...user.roles] });
    }
  });

  it('returns a registered user without any secret field', async () => {
    const created = await register(h, 'ivan', 'ivan-password-123');
    const res = await get(`${h.url}/users/${String(created.body.userId)}`, { authorization: `Bearer ${serviceToken}` });
    expect(res.body).toEqual({ userId: created.body.userId, username: 'ivan', roles: ['customer'] });
  });

  it('answers 401 without or with a bad token, 403 for a user token without the scope, 404 for an unknown id', async () => {
    const id = DEV_USERS[0].userId;
    const none = await get(`${h.url}/users/${id}`);
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toMatch(/^Bearer/);
    const garbage = await get(`${h.url}/users/${id}`, { authorization: 'Bearer abc.def.ghi' });
    expect(garbage.status).toBe(401);
    expect(garbage.headers.get('www-authenticate')).toContain('error="invalid_token"');
    const userToken = String((await passwordLogin(h, 'alice', 'alice-wallet-demo-pw')).body.access_token);
    const forbidden = await get(`${h.url}/users/${id}`, { authorization: `Bearer ${userToken}` });
    expect(forbidden.status).toBe(403);
    expect(forbidden.headers.get('www-authenticate')).toContain('insufficient_scope');
    for (const unknown of ['00000000-0000-4000-8000-000000000000', 'not-a-uuid']) {
      expect((await get(`${h.url}/users/${unknown}`, { authorization: `Bearer ${serviceToken}` })).status).toBe(404);
    }
  });

  it('GET /users?username= finds a user for support, admin and service clients; customers get 403, unknown names 404', async () => {
    const tokenOf = async (username: string, password: string) => `Bearer ${String((await passwordLogin(h, username, password)).body.access_token)}`;
    const alice = DEV_USERS[0];
    for (const authorization of [await tokenOf('support', 'support-wallet-demo-pw'), await tokenOf('admin', 'admin-wallet-demo-pw'), `Bearer ${serviceToken}`]) {
      const res = await get(`${h.url}/users?username=alice`, { authorization });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ userId: alice.userId, username: 'alice', roles: ['customer'] });
    }
    const support = await tokenOf('support', 'support-wallet-demo-pw');
    expect((await get(`${h.url}/users?username=nobody-here`, { authorization: support })).status).toBe(404);
    expect((await get(`${h.url}/users?username=NOT%20VALID`, { authorization: support })).status).toBe(404);
    expect((await get(`${h.url}/users`, { authorization: support })).status).toBe(400);
    expect((await get(`${h.url}/users?username=a&username=b`, { authorization: support })).status).toBe(400);
    const customer = await get(`${h.url}/users?username=bob`, { authorization: await tokenOf('alice', alice.password) });
    expect(customer.status).toBe(403);
    expect((await get(`${h.url}/users?username=bob`)).status).toBe(401);
  });

  it('seeds nobody when IDENTITY_SEED_DEV_USERS is not set', async () => {
    const plain = await startHarness();
    try {
      expect((await passwordLogin(plain, 'alice', 'alice-wallet-demo-pw')).status).toBe(400);
      expect((await clientToken(plain, DEV_CLIENT.clientId, DEV_CLIENT.clientSecret)).status).toBe(401);
    } finally {
      await plain.stop();
    }
  });
});
