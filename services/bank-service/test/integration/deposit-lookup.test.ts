// GetDeposit: an ambiguous DepositMoney outcome is looked up by its reference,
// never guessed; with void_if_absent a reference never applied is voided, so
// a later (or concurrent) DepositMoney with it can never apply.
import { randomUUID } from 'node:crypto';
import type { TestDatabase } from '@wallet/testkit';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BankOperations } from '../../src/app/operations.js';
import {
  AccountNotFoundError,
  type BankError,
  DepositReferenceVoidedError,
  IdempotencyKeyReusedError,
  InvalidAmountError,
  StorageUnavailableError,
} from '../../src/domain/errors.js';
import { depositLockKey } from '../../src/domain/hashing.js';
import type { DepositMoneyInput } from '../../src/domain/requests.js';
import { balanceOf, createAccounts, createMigratedDatabase, HEALTHY_LEDGER, ledgerInvariants, rejection, testOperations, testPool } from '../support/helpers.js';
import { DEPOSITOR } from '../support/callers.js';

let db: TestDatabase;
let pool: pg.Pool;
let ops: BankOperations;

beforeAll(async () => {
  db = await createMigratedDatabase('bank_deposit_lookup');
  pool = testPool(db.url);
  ops = testOperations(pool);
});

afterAll(async () => {
  await pool?.end();
  await db?.drop();
});

function deposit(accountId: string, amountMinor: bigint, extra: Partial<DepositMoneyInput> = {}): DepositMoneyInput {
  return {
    accountId,
    amount: { amountMinor, currencyCode: 'USD' },
    depositReference: `lookup-${randomUUID()}`,
    topUpId: randomUUID(),
    card: { cardLast4: '4242', cardBrand: 'visa' },
    initiatedBy: DEPOSITOR,
    ...extra,
  };
}

describe('GetDeposit', () => {
  it('returns an applied deposit, exactly as DepositMoney answered it', async () => {
    const [account] = await createAccounts(pool, 1, 0n);
    const request = deposit(account!, 2_500n);
    const applied = await ops.depositMoney(request);
    for (const voidIfAbsent of [false, true]) {
      expect(await ops.getDeposit({ depositReference: request.depositReference, voidIfAbsent })).toEqual({ status: 'applied', deposit: applied.deposit });
    }
  });

  it('answers NOT_FOUND without voiding, so the deposit may still apply', async () => {
    const [account] = await createAccounts(pool, 1, 0n);
    const request = deposit(account!, 100n);
    expect(await ops.getDeposit({ depositReference: request.depositReference, voidIfAbsent: false })).toEqual({ status: 'not_found' });
    expect((await ops.depositMoney(request)).replayed).toBe(false);
  });

  it('voids an unapplied reference: VOIDED from then on, and DepositMoney with it fails DEPOSIT_REFERENCE_VOIDED, changing nothing', async () => {
    const [account] = await createAccounts(pool, 1, 0n);
    const request = deposit(account!, 100n);
    expect(await ops.getDeposit({ depositReference: request.depositReference, voidIfAbsent: true })).toEqual({ status: 'voided' });
    expect(await ops.getDeposit({ depositReference: request.depositReference, voidIfAbsent: false })).toEqual({ status: 'voided' });
    expect(await rejection(ops.depositMoney(request))).toBeInstanceOf(DepositReferenceVoidedError);
    expect(await balanceOf(pool, account!)).toBe(0n);
    expect(await ledgerInvariants(pool)).toEqual(HEALTHY_LEDGER);
  });

  it('waits for a deposit in flight (the reference lock), bounded by the lock timeout', async () => {
    const shortPool = testPool(db.url, { statementTimeoutMs: 300 });
    const reference = `lookup-held-${randomUUID()}`;
    const holder = await pool.connect();
    try {
      await holder.query('BEGIN');
      await holder.query('SELECT pg_advisory_xact_lock($1::bigint)', [depositLockKey(reference).toString()]);
      const error = await rejection(testOperations(shortPool).getDeposit({ depositReference: reference, voidIfAbsent: true }));
      expect(error).toBeInstanceOf(StorageUnavailableError);
    } finally {
      await holder.query('ROLLBACK');
      holder.release();
      await shortPool.end();
    }
    // Nothing was voided by the lookup that gave up.
    expect(await ops.getDeposit({ depositReference: reference, voidIfAbsent: false })).toEqual({ status: 'not_found' });
  });

  it('decides concurrent DepositMoney and GetDeposit(void) on one reference: exactly one wins, and both answers agree with the ledger', async () => {
    const accounts = await createAccounts(pool, 20, 0n);
    const rounds = await Promise.all(
      accounts.map(async (account) => {
        const request = deposit(account, 700n);
        const [deposited, looked] = await Promise.allSettled([
          ops.depositMoney(request),
          ops.getDeposit({ depositReference: request.depositReference, voidIfAbsent: true }),
        ]);
        return { account, deposited, looked };
      }),
    );
    for (const { account, deposited, looked } of rounds) {
      expect(looked.status).toBe('fulfilled');
      const lookup = (looked as PromiseFulfilledResult<Awaited<ReturnType<BankOperations['getDeposit']>>>).value;
      const balance = await balanceOf(pool, account);
      if (deposited.status === 'fulfilled') {
        // The deposit won: the lookup ran after it (waiting on the reference lock if needed) and saw it.
        expect(lookup).toEqual({ status: 'applied', deposit: deposited.value.deposit });
        expect(balance).toBe(700n);
      } else {
        expect(deposited.reason).toBeInstanceOf(DepositReferenceVoidedError);
        expect(lookup).toEqual({ status: 'voided' });
        expect(balance).toBe(0n);
      }
    }
    expect(await ledgerInvariants(pool)).toEqual(HEALTHY_LEDGER);
  });
});

describe('DepositMoney replays before any limit', () => {
  it('replays an applied deposit even after the maximum was lowered below its amount', async () => {
    const [account] = await createAccounts(pool, 1, 0n);
    const request = deposit(account!, 5_000n);
    const applied = await ops.depositMoney(request);
    const strict = testOperations(pool, { limits: { maxTransferAmountMinor: 100n, maxDepositAmountMinor: 100n } });
    expect(await strict.depositMoney(request)).toEqual({ deposit: applied.deposit, replayed: true });
    // A new reference meets the new limit.
    expect(await rejection(strict.depositMoney(deposit(account!, 5_000n)))).toBeInstanceOf(InvalidAmountError);
  });

  it('binds a business failure to the reference: replayed for the same request, REUSED for another, VOIDED for GetDeposit', async () => {
    const late = randomUUID();
    const request = deposit(late, 100n);
    expect(await rejection(ops.depositMoney(request))).toBeInstanceOf(AccountNotFoundError);
    await pool.query(`INSERT INTO bank.accounts (id, kind, currency, balance_minor) VALUES ($1, 'customer', 'USD', 0)`, [late]);
    const replayed = (await rejection(ops.depositMoney(request))) as BankError;
    expect(replayed).toBeInstanceOf(AccountNotFoundError);
    expect(replayed.metadata.replayed).toBe('true');
    expect(await rejection(ops.depositMoney({ ...request, amount: { amountMinor: 101n, currencyCode: 'USD' } }))).toBeInstanceOf(IdempotencyKeyReusedError);
    expect(await ops.getDeposit({ depositReference: request.depositReference, voidIfAbsent: false })).toEqual({ status: 'voided' });
    expect(await balanceOf(pool, late)).toBe(0n);
  });
});
