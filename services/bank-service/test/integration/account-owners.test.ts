// GetAccountOwners (issue #15, for the webhook-service): owners of customer
// accounts from one query, then from memory; unknown ids absent; bad input refused.
import { randomUUID } from 'node:crypto';
import type { TestDatabase } from '@wallet/testkit';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ACCOUNT_OWNERS_IDS_MAX, getAccountOwners } from '../../src/app/account-owners.js';
import type { BankOperations } from '../../src/app/operations.js';
import { InvalidArgumentError } from '../../src/domain/errors.js';
import { principal } from '../support/callers.js';
import { createMigratedDatabase, SETTLEMENT, testOperations, testPool } from '../support/helpers.js';

let db: TestDatabase;
let pool: pg.Pool;
let ops: BankOperations;

beforeAll(async () => {
  db = await createMigratedDatabase('bank_account_owners');
  pool = testPool(db.url);
  ops = testOperations(pool);
});

afterAll(async () => {
  await ops?.close();
  await pool?.end();
  await db?.drop();
});

async function openAccount(subject: string): Promise<string> {
  const { account } = await ops.createAccount({ idempotencyKey: randomUUID(), currency: 'USD', ownerId: '' }, principal(subject));
  return account.id;
}

describe('GetAccountOwners', () => {
  it('answers the owner of each customer account and leaves unknown and system accounts out', async () => {
    const alice = `user-${randomUUID()}`;
    const bob = `user-${randomUUID()}`;
    const [a, b] = [await openAccount(alice), await openAccount(bob)];
    const cold = testOperations(pool);
    try {
      const owners = await getAccountOwners(cold.context, [a, b.toUpperCase(), randomUUID(), SETTLEMENT]);
      expect(Object.fromEntries(owners)).toEqual({ [a]: alice, [b]: bob });
    } finally {
      await cold.close();
    }
  });

  it('asks the database once for all misses, then answers from memory', async () => {
    const ids = [await openAccount(`user-${randomUUID()}`), await openAccount(`user-${randomUUID()}`)];
    const cold = testOperations(pool);
    let queries = 0;
    const original = pool.query.bind(pool) as (...args: unknown[]) => unknown;
    const spy = vi.spyOn(pool, 'query').mockImplementation(((...args: unknown[]) => {
      if ((args[0] as { name?: string } | undefined)?.name === 'bank_account_owners') queries += 1;
      return original(...args);
    }) as typeof pool.query);
    try {
      await getAccountOwners(cold.context, ids);
      const again = await getAccountOwners(cold.context, ids);
      expect(again.size).toBe(2);
      expect(queries).toBe(1);
    } finally {
      spy.mockRestore();
      await cold.close();
    }
  });

  it('refuses malformed ids and more than the maximum, naming the field', async () => {
    await expect(getAccountOwners(ops.context, ['not-a-uuid'])).rejects.toBeInstanceOf(InvalidArgumentError);
    const tooMany = Array.from({ length: ACCOUNT_OWNERS_IDS_MAX + 1 }, () => randomUUID());
    await expect(getAccountOwners(ops.context, tooMany)).rejects.toThrow(/at most 1000/);
  });
});
