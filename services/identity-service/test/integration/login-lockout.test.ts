import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEV_USERS } from '../../src/app/users.js';
import { passwordLogin, startHarness, type Harness } from '../support/harness.js';

const [alice, bob, support, admin] = DEV_USERS;
const LOCK_MS = 120_000;
const WINDOW_MS = 60_000;

describe('brute-force lockout per username', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({
      IDENTITY_SEED_DEV_USERS: 'true',
      IDENTITY_LOGIN_FAILURES_MAX: '3',
      IDENTITY_LOGIN_FAILURE_WINDOW_MS: String(WINDOW_MS),
      IDENTITY_LOGIN_LOCK_MS: String(LOCK_MS),
    });
  });
  afterAll(async () => h?.stop());

  const fail = (username: string) => passwordLogin(h, username, 'definitely-wrong-password');

  it('locks after the configured failures: 429 with Retry-After even with the right password, until the lock expires', async () => {
    for (let i = 0; i < 3; i += 1) expect((await fail(alice.username)).status).toBe(400);
    const locked = await passwordLogin(h, alice.username, alice.password);
    expect(locked.status).toBe(429);
    expect(locked.headers.get('content-type')).toContain('application/problem+json');
    expect(locked.body.code).toBe('LOGIN_LOCKED');
    const retryAfter = Number(locked.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(LOCK_MS / 1000);
    // Other usernames are not affected.
    expect((await passwordLogin(h, bob.username, bob.password)).status).toBe(200);
    h.clock.advance(LOCK_MS + 1);
    expect((await passwordLogin(h, alice.username, alice.password)).status).toBe(200);
  });

  it('never becomes permanent: after a lock expires a fresh run of failures is needed to lock again', async () => {
    for (let i = 0; i < 3; i += 1) await fail(support.username);
    expect((await fail(support.username)).status).toBe(429);
    h.clock.advance(LOCK_MS + 1);
    expect((await fail(support.username)).status).toBe(400); // one failure after the lock: not locked again
    expect((await passwordLogin(h, support.username, support.password)).status).toBe(200);
  });

  it('counts only failures within the window, and a success resets the count', async () => {
    await fail(admin.username);
    await fail(admin.username);
    h.clock.advance(WINDOW_MS + 1);
    await fail(admin.username); // the earlier two fell out of the window
    expect((await passwordLogin(h, admin.username, admin.password)).status).toBe(200);
    await fail(admin.username);
    await fail(admin.username);
    expect((await passwordLogin(h, admin.username, admin.password)).status).toBe(200);
  });

  it('locks unknown usernames alike, so the lock reveals nothing about which users exist', async () => {
    for (let i = 0; i < 3; i += 1) expect((await fail('ghost-user')).status).toBe(400);
    expect((await fail('ghost-user')).status).toBe(429);
  });

  it('keeps the lock in the database, so every replica enforces it', async () => {
    for (let i = 0; i < 3; i += 1) await fail(bob.username);
    const replica = await startHarness({ IDENTITY_LOGIN_FAILURES_MAX: '3', IDENTITY_LOGIN_LOCK_MS: String(LOCK_MS) }, { db: h.db, clock: h.clock });
    try {
      expect((await passwordLogin(replica, bob.username, bob.password)).status).toBe(429);
    } finally {
      await replica.stop();
    }
  });
});
