// Two identity-service replicas started at once on a new database (npm start
// --replicas 2, issue 13): the one that loses the race to create the first
// signing key must load the winner's key, not fail with "no current signing key".
import { createTestDatabase, type TestDatabase } from '@wallet/testkit';
import { decodeProtectedHeader } from 'jose';
import { afterAll, describe, expect, it } from 'vitest';
import { DEV_USERS } from '../../src/app/users.js';
import { dropTestDatabase } from '../support/db.js';
import { passwordLogin, startHarness, type Harness } from '../support/harness.js';

const REPLICAS = 4;

describe('replicas starting together on a new database', () => {
  let db: TestDatabase | undefined;
  const harnesses: Harness[] = [];
  afterAll(async () => {
    await Promise.all(harnesses.map((h) => h.stop()));
    if (db) await dropTestDatabase(db);
  });

  it('all start, and all sign with the one signing key the first of them created', async () => {
    db = await createTestDatabase('identity_replicas');
    const started = await Promise.allSettled(Array.from({ length: REPLICAS }, () => startHarness({ IDENTITY_SEED_DEV_USERS: 'true' }, { db, logLevel: 'warn' })));
    for (const result of started) if (result.status === 'fulfilled') harnesses.push(result.value);
    expect(started.filter((r) => r.status === 'rejected').map((r) => String((r as PromiseRejectedResult).reason))).toEqual([]);
    const kids = new Set<string>();
    for (const h of harnesses) {
      const login = await passwordLogin(h, DEV_USERS[0]!.username, DEV_USERS[0]!.password);
      expect(login.status).toBe(200);
      kids.add(String(decodeProtectedHeader(String(login.body.access_token)).kid));
    }
    expect(kids.size).toBe(1);
  });
});
