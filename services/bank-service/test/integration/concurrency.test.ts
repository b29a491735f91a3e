// Concurrency invariants on a real PostgreSQL: duplicates execute once, money
// is conserved, nothing goes negative, no deadlock reaches a caller.
import type { TestDatabase } from '@wallet/testkit';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BankOperations } from '../../src/app/operations.js';
import { IdempotencyKeyInFlightError, type BankError } from '../../src/domain/errors.js';
import type { TransferMoneyInput } from '../../src/domain/requests.js';
import {
  balanceOf,
  createAccounts,
  createMigratedDatabase,
  HEALTHY_LEDGER,
  ledgerInvariants,
  testOperations,
  testPool,
} from '../support/helpers.js';
import { ADMIN } from '../support/callers.js';

let db: TestDatabase;
let pool: pg.Pool;
let ops: BankOperations;
const retries: string[] = [];

beforeAll(async () => {
  db = await createMigratedDatabase('bank_concurrency');
  pool = testPool(db.url, { connectionsMax: 20 });
  ops = testOperations(pool, { onRetry: (operation, cause) => retries.push(`${operation}:${cause}`) });
});

afterAll(async () => {
  await pool?.end();
  await db?.drop();
});

/** A deterministic pseudo-random sequence, so a failure can be reproduced. */
function mulberry32(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('idempotency under concurrency', () => {
  it('executes 50 concurrent identical transfers exactly once; the others replay or are told it is in flight', async () => {
    const [from, to] = await createAccounts(pool, 2, 10_000n);
    const request: TransferMoneyInput = {
      senderAccountId: from!,
      recipientAccountId: to!,
      amount: { amountMinor: 1_000n, currencyCode: 'USD' },
      idempotencyKey: 'same-key-50',
      description: 'once',
    };
    const results = await Promise.allSettled(Array.from({ length: 50 }, () => ops.transferMoney(request, ADMIN)));

    const fulfilled = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    const rejected = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
    for (const error of rejected) expect(error).toBeInstanceOf(IdempotencyKeyInFlightError);
    expect(fulfilled.filter((r) => !r.replayed)).toHaveLength(1);
    expect(new Set(fulfilled.map((r) => r.transfer.id)).size).toBe(1);
    expect(fulfilled.length + rejected.length).toBe(50);

    const { rows } = await pool.query<{ n: bigint }>('SELECT count(*) AS n FROM bank.transfers WHERE sender_account_id = $1', [from]);
    expect(rows[0]!.n).toBe(1n);
    expect(await balanceOf(pool, from!)).toBe(9_000n);
    expect(await balanceOf(pool, to!)).toBe(11_000n);

    // After the dust settles every retry is a replay of the one transfer.
    const late = await ops.transferMoney(request, ADMIN);
    expect(late).toMatchObject({ replayed: true, transfer: { id: fulfilled[0]!.transfer.id } });
  });

  it('never lets two different keys overdraw one sender', async () => {
    const [from, to] = await createAccounts(pool, 2, 1_000n);
    const results = await Promise.allSettled(
      Array.from({ length: 30 }, (_, i) =>
        ops.transferMoney({
          senderAccountId: from!,
          recipientAccountId: to!,
          amount: { amountMinor: 100n, currencyCode: 'USD' },
          idempotencyKey: `drain-${i}`,
          description: '',
        }, ADMIN),
      ),
    );
    const succeeded = results.filter((r) => r.status === 'fulfilled').length;
    const reasons = new Set(results.flatMap((r) => (r.status === 'rejected' ? [(r.reason as BankError).reason] : [])));
    expect(succeeded).toBe(10);
    expect([...reasons]).toEqual(['INSUFFICIENT_FUNDS']);
    expect(await balanceOf(pool, from!)).toBe(0n);
  });
});

describe('1,000 concurrent random transfers among 20 accounts', () => {
  it('conserves money, keeps balances non-negative and ledgers in step, and surfaces no deadlock', async () => {
    const accounts = await createAccounts(pool, 20, 5_000n);
    const random = mulberry32(20_240_601);
    const pick = () => accounts[Math.floor(random() * accounts.length)]!;
    const requests: TransferMoneyInput[] = Array.from({ length: 1_000 }, (_, i) => {
      const sender = pick();
      let recipient = pick();
      while (recipient === sender) recipient = pick();
      return {
        senderAccountId: sender,
        recipientAccountId: recipient,
        // Up to 30.00, so some senders run dry and get INSUFFICIENT_FUNDS.
        amount: { amountMinor: BigInt(1 + Math.floor(random() * 3_000)), currencyCode: 'USD' },
        idempotencyKey: `random-${i}`,
        description: '',
      };
    });
    const totalBefore = await pool.query<{ total: bigint }>('SELECT sum(balance_minor)::bigint AS total FROM bank.accounts WHERE id = ANY($1)', [accounts]);

    const results = await Promise.allSettled(requests.map((r) => ops.transferMoney(r, ADMIN)));

    const unexpected = results.flatMap((r) =>
      r.status === 'rejected' && (r.reason as BankError).reason !== 'INSUFFICIENT_FUNDS' ? [r.reason as Error] : [],
    );
    expect(unexpected.map((e) => `${e.name}: ${e.message}`)).toEqual([]);
    const completed = results.filter((r) => r.status === 'fulfilled').length;
    expect(completed).toBeGreaterThan(0);

    const totalAfter = await pool.query<{ total: bigint }>('SELECT sum(balance_minor)::bigint AS total FROM bank.accounts WHERE id = ANY($1)', [accounts]);
    expect(totalAfter.rows[0]!.total).toBe(totalBefore.rows[0]!.total);
    const { rows } = await pool.query<{ n: bigint }>(
      'SELECT count(*) AS n FROM bank.transfers WHERE sender_account_id = ANY($1) AND idempotency_key LIKE $2',
      [accounts, 'random-%'],
    );
    expect(rows[0]!.n).toBe(BigInt(completed));
    expect(await ledgerInvariants(pool)).toEqual(HEALTHY_LEDGER);
    // Locks are taken in id order, so PostgreSQL never had to break a deadlock.
    expect(retries.filter((r) => r.endsWith(':conflict'))).toEqual([]);
  });
});
