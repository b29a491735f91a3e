// Ownership checks at the use-case level, on a real PostgreSQL: the sender's
// owner is settled before any idempotency work, and from memory once known
// (owners never change), so group commit does not pay a query per transfer.
import { randomUUID } from 'node:crypto';
import type { TestDatabase } from '@wallet/testkit';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { BankOperations } from '../../src/app/operations.js';
import { AccountNotFoundError, IdempotencyKeyInFlightError, RoleForbiddenError } from '../../src/domain/errors.js';
import type { TransferMoneyInput } from '../../src/domain/requests.js';
import { principal } from '../support/callers.js';
import { createMigratedDatabase, HEALTHY_LEDGER, ledgerInvariants, rejection, testOperations, testPool } from '../support/helpers.js';

let db: TestDatabase;
let pool: pg.Pool;
let ops: BankOperations;

beforeAll(async () => {
  db = await createMigratedDatabase('bank_ownership');
  pool = testPool(db.url);
  ops = testOperations(pool);
});

afterAll(async () => {
  await ops?.close();
  await pool?.end();
  await db?.drop();
});

/** A customer with one account holding `balanceMinor`, opened and funded through the use cases. */
async function customer(balanceMinor: bigint) {
  const caller = principal(`user-${randomUUID()}`);
  const { account } = await ops.createAccount({ idempotencyKey: 'k', currency: 'USD', ownerId: '' }, caller);
  if (balanceMinor > 0n) {
    await ops.depositMoney({
      accountId: account.id,
      amount: { amountMinor: balanceMinor, currencyCode: 'USD' },
      depositReference: randomUUID(),
      topUpId: randomUUID(),
      card: { cardLast4: '4242', cardBrand: 'visa' },
      initiatedBy: caller.subject,
    });
  }
  return { caller, accountId: account.id };
}

const transfer = (sender: string, recipient: string, key: string = randomUUID()): TransferMoneyInput => ({
  senderAccountId: sender,
  recipientAccountId: recipient,
  amount: { amountMinor: 1n, currencyCode: 'USD' },
  idempotencyKey: key,
  description: '',
});

/** Counts the owner lookups the bank sends (the named statement of findAccountOwners). */
function countOwnerQueries(): { count: () => number; restore: () => void } {
  let count = 0;
  const original = pool.query.bind(pool) as (...args: unknown[]) => unknown;
  const spy = vi.spyOn(pool, 'query').mockImplementation(((...args: unknown[]) => {
    if ((args[0] as { name?: string } | undefined)?.name === 'bank_account_owners') count += 1;
    return original(...args);
  }) as typeof pool.query);
  return { count: () => count, restore: () => spy.mockRestore() };
}

describe('the sender owner check', () => {
  it('asks the database once per account, then answers from memory (no query per transfer)', async () => {
    const payer = await customer(1_000n);
    const payee = await customer(0n);
    // A fresh cache: opening the account remembered the owner, so start from an empty one.
    const cold = testOperations(pool);
    const queries = countOwnerQueries();
    try {
      // Concurrent first transfers on a cold cache share one lookup.
      await Promise.all(Array.from({ length: 10 }, () => cold.transferMoney(transfer(payer.accountId, payee.accountId), payer.caller)));
      for (let i = 0; i < 10; i += 1) await cold.transferMoney(transfer(payer.accountId, payee.accountId), payer.caller);
      expect(queries.count()).toBe(1);
      expect(cold.owners.size).toBe(1);
    } finally {
      queries.restore();
      await cold.close();
    }
  });

  it("refuses another customer's sender before the key is looked at or locked: no IN_FLIGHT, no replay, nothing bound", async () => {
    const owner = await customer(1_000n);
    const intruder = await customer(1_000n);
    const request = transfer(owner.accountId, intruder.accountId, 'contested-key');
    await ops.transferMoney(request, owner.caller);
    const error = await rejection(ops.transferMoney(request, intruder.caller));
    expect(error).toBeInstanceOf(AccountNotFoundError);
    expect(error).not.toBeInstanceOf(IdempotencyKeyInFlightError);
    expect((error as AccountNotFoundError).metadata).toEqual({ accountId: owner.accountId, role: 'sender' });
    const { rows } = await pool.query('SELECT 1 FROM bank.transfer_failures WHERE sender_account_id = $1', [owner.accountId]);
    expect(rows).toHaveLength(0);
  });

  it('refuses support before any lookup, and an unknown sender for a customer without binding its key', async () => {
    const someone = await customer(10n);
    expect(await rejection(ops.transferMoney(transfer(someone.accountId, someone.accountId), principal('s', ['support'])))).toBeInstanceOf(RoleForbiddenError);
    const unknown = '00000000-0000-4000-8000-00000000beef';
    expect(await rejection(ops.transferMoney(transfer(unknown, someone.accountId, 'unknown-sender-key'), someone.caller))).toBeInstanceOf(AccountNotFoundError);
    const { rows } = await pool.query('SELECT 1 FROM bank.transfer_failures WHERE idempotency_key = $1', ['unknown-sender-key']);
    expect(rows).toHaveLength(0);
    expect(await ledgerInvariants(pool)).toEqual(HEALTHY_LEDGER);
  });
});
