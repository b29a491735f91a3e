// TransferMoney on a real PostgreSQL: effects, idempotency and atomicity.
import { randomUUID } from 'node:crypto';
import type { TestDatabase } from '@wallet/testkit';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BankOperations } from '../../src/app/operations.js';
import {
  AccountNotFoundError,
  CurrencyMismatchError,
  IdempotencyKeyInFlightError,
  IdempotencyKeyReusedError,
  InsufficientFundsError,
  InvalidAmountError,
  InvalidArgumentError,
  SameAccountError,
} from '../../src/domain/errors.js';
import type { TransferMoneyInput } from '../../src/domain/requests.js';
import { writeTransfers } from '../../src/db/ledger-writes.js';
import { lockTransferBatchContext } from '../../src/db/transfers.js';
import { transferLockKey } from '../../src/domain/hashing.js';
import { accountUpdates, applyPostings, decideTransfer, type TransferPlan } from '../../src/domain/ledger.js';
import { validateTransferRequest } from '../../src/domain/requests.js';
import {
  ALICE,
  BOB,
  balanceOf,
  countRows,
  createAccounts,
  createMigratedDatabase,
  eventValidators,
  HEALTHY_LEDGER,
  ledgerInvariants,
  rejection,
  SETTLEMENT,
  testOperations,
  testPool,
} from '../support/helpers.js';
import { ADMIN } from '../support/callers.js';

let db: TestDatabase;
let pool: pg.Pool;
let ops: BankOperations;
let keyCounter = 0;
const newKey = () => `transfers-test-${(keyCounter += 1)}`;

function transfer(sender: string, recipient: string, amountMinor: bigint, extra: Partial<TransferMoneyInput> = {}): TransferMoneyInput {
  return {
    senderAccountId: sender,
    recipientAccountId: recipient,
    amount: { amountMinor, currencyCode: 'USD' },
    idempotencyKey: newKey(),
    description: '',
    ...extra,
  };
}

/** A snapshot of everything a rejected request must leave untouched. */
async function snapshot() {
  const { rows } = await pool.query<{ id: string; balance_minor: bigint; version: bigint }>(
    'SELECT id, balance_minor, version FROM bank.accounts ORDER BY id',
  );
  return {
    accounts: rows,
    transfers: await countRows(pool, 'transfers'),
    entries: await countRows(pool, 'ledger_entries'),
    outbox: await countRows(pool, 'outbox'),
  };
}

beforeAll(async () => {
  db = await createMigratedDatabase('bank_transfers');
  pool = testPool(db.url);
  ops = testOperations(pool);
});

afterAll(async () => {
  await pool?.end();
  await db?.drop();
});

describe('seed data', () => {
  it('has the plan accounts funded from the settlement account, with a healthy ledger', async () => {
    expect(await balanceOf(pool, ALICE)).toBe(100_000n);
    expect(await balanceOf(pool, BOB)).toBe(50_000n);
    expect(await balanceOf(pool, SETTLEMENT)).toBe(-150_000n);
    expect(await ledgerInvariants(pool)).toEqual(HEALTHY_LEDGER);
  });
});

describe('TransferMoney', () => {
  it('moves money and writes the transfer, two ledger entries and two outbox events in one go', async () => {
    const [from, to] = await createAccounts(pool, 2, 10_000n);
    const before = await snapshot();
    const result = await ops.transferMoney(transfer(from!, to!, 1_050n, { description: 'lunch' }), ADMIN);
    expect(result.replayed).toBe(false);
    expect(result.transfer).toMatchObject({ senderAccountId: from, recipientAccountId: to, amountMinor: 1_050n, currency: 'USD', status: 'completed', description: 'lunch' });
    expect(await balanceOf(pool, from!)).toBe(8_950n);
    expect(await balanceOf(pool, to!)).toBe(11_050n);
    const after = await snapshot();
    expect(after.transfers - before.transfers).toBe(1n);
    expect(after.entries - before.entries).toBe(2n);
    expect(after.outbox - before.outbox).toBe(2n);

    const { rows: entries } = await pool.query<{ account_id: string; amount_minor: bigint; balance_after_minor: bigint }>(
      'SELECT account_id, amount_minor, balance_after_minor FROM bank.ledger_entries WHERE transfer_id = $1 ORDER BY id',
      [result.transfer.id],
    );
    expect(entries).toEqual([
      { account_id: from, amount_minor: -1_050n, balance_after_minor: 8_950n },
      { account_id: to, amount_minor: 1_050n, balance_after_minor: 11_050n },
    ]);
    const { rows: versions } = await pool.query<{ version: bigint }>('SELECT version FROM bank.accounts WHERE id = ANY($1) ORDER BY id', [[from, to]]);
    expect(versions.map((v) => v.version)).toEqual([2n, 2n]);
    expect(await ledgerInvariants(pool)).toEqual(HEALTHY_LEDGER);
  });

  it('replays the original transfer for the same key and request, without a second debit', async () => {
    const [from, to] = await createAccounts(pool, 2, 10_000n);
    const request = transfer(from!, to!, 700n);
    const first = await ops.transferMoney(request, ADMIN);
    const second = await ops.transferMoney(request, ADMIN);
    expect(second.replayed).toBe(true);
    expect(second.transfer).toEqual(first.transfer);
    expect(await balanceOf(pool, from!)).toBe(9_300n);
  });

  it('rejects the same key with a different request, changing nothing', async () => {
    const [from, to] = await createAccounts(pool, 2, 10_000n);
    const request = transfer(from!, to!, 700n);
    await ops.transferMoney(request, ADMIN);
    const before = await snapshot();
    for (const change of [{ amount: { amountMinor: 701n, currencyCode: 'USD' } }, { description: 'other' }, { recipientAccountId: ALICE }]) {
      expect(await rejection(ops.transferMoney({ ...request, ...change }, ADMIN))).toBeInstanceOf(IdempotencyKeyReusedError);
    }
    expect(await snapshot()).toEqual(before);
  });

  it('scopes idempotency keys per sender', async () => {
    const [a, b, c] = await createAccounts(pool, 3, 10_000n);
    const key = newKey();
    const fromA = await ops.transferMoney(transfer(a!, c!, 100n, { idempotencyKey: key }), ADMIN);
    const fromB = await ops.transferMoney(transfer(b!, c!, 100n, { idempotencyKey: key }), ADMIN);
    expect(fromB.replayed).toBe(false);
    expect(fromB.transfer.id).not.toBe(fromA.transfer.id);
  });

  it('answers IDEMPOTENCY_KEY_IN_FLIGHT while the same key is executing elsewhere', async () => {
    const [from, to] = await createAccounts(pool, 2, 10_000n);
    const request = transfer(from!, to!, 100n);
    // Hold the key's advisory lock as a concurrent transaction would.
    const holder = await pool.connect();
    try {
      await holder.query('BEGIN');
      await holder.query('SELECT pg_advisory_xact_lock($1::bigint)', [transferLockKey(from!, request.idempotencyKey).toString()]);
      expect(await rejection(ops.transferMoney(request, ADMIN))).toBeInstanceOf(IdempotencyKeyInFlightError);
    } finally {
      await holder.query('ROLLBACK');
      holder.release();
    }
    expect((await ops.transferMoney(request, ADMIN)).replayed).toBe(false);
  });

  it.each([
    ['an unknown sender', () => transfer('00000000-0000-4000-8000-00000000dead', BOB, 1n), AccountNotFoundError],
    ['an unknown recipient', () => transfer(ALICE, '00000000-0000-4000-8000-00000000dead', 1n), AccountNotFoundError],
    ['the settlement account as sender', () => transfer(SETTLEMENT, BOB, 1n), AccountNotFoundError],
    ['the settlement account as recipient', () => transfer(ALICE, SETTLEMENT, 1n), AccountNotFoundError],
    ['sender = recipient', () => transfer(ALICE, ALICE, 1n), SameAccountError],
    ['a zero amount', () => transfer(ALICE, BOB, 0n), InvalidAmountError],
    ['a negative amount', () => transfer(ALICE, BOB, -5n), InvalidAmountError],
    ['an amount above the maximum', () => transfer(ALICE, BOB, 100_000_001n), InvalidAmountError],
    ['more than the balance', () => transfer(BOB, ALICE, 50_000_000n), InsufficientFundsError],
    ['another currency', () => transfer(ALICE, BOB, 1n, { amount: { amountMinor: 1n, currencyCode: 'EUR' } }), CurrencyMismatchError],
    ['a malformed account id', () => transfer('alice', BOB, 1n), InvalidArgumentError],
    ['an empty idempotency key', () => transfer(ALICE, BOB, 1n, { idempotencyKey: '' }), InvalidArgumentError],
    ['a 141-character description', () => transfer(ALICE, BOB, 1n, { description: 'x'.repeat(141) }), InvalidArgumentError],
  ])('rejects %s and changes nothing', async (_name, make, errorClass) => {
    const before = await snapshot();
    expect(await rejection(ops.transferMoney(make(), ADMIN))).toBeInstanceOf(errorClass);
    expect(await snapshot()).toEqual(before);
  });

  it('names the missing account and its role', async () => {
    const error = (await rejection(ops.transferMoney(transfer(ALICE, '00000000-0000-4000-8000-00000000beef', 1n), ADMIN))) as AccountNotFoundError;
    expect(error.metadata).toEqual({ accountId: '00000000-0000-4000-8000-00000000beef', role: 'recipient' });
  });

  it('rejects a transfer between accounts of different currencies', async () => {
    const eur = '00000000-0000-4000-8000-0000000000e0';
    await pool.query(`INSERT INTO bank.accounts (id, kind, currency, balance_minor) VALUES ($1, 'customer', 'EUR', 0)`, [eur]);
    expect(await rejection(ops.transferMoney(transfer(ALICE, eur, 1n), ADMIN))).toBeInstanceOf(CurrencyMismatchError);
  });

  it('binds a business failure to its key: after the sender is funded, a retry replays INSUFFICIENT_FUNDS and moves nothing', async () => {
    const [poor, rich] = await createAccounts(pool, 2, 100n);
    const request = transfer(poor!, rich!, 150n);
    const first = await rejection(ops.transferMoney(request, ADMIN));
    expect(first).toBeInstanceOf(InsufficientFundsError);
    expect((first as InsufficientFundsError).metadata.replayed).toBeUndefined();
    await ops.transferMoney(transfer(rich!, poor!, 50n), ADMIN);
    const retried = await rejection(ops.transferMoney(request, ADMIN));
    expect(retried).toBeInstanceOf(InsufficientFundsError);
    expect((retried as InsufficientFundsError).metadata).toEqual({ accountId: poor, replayed: 'true' });
    expect(await balanceOf(pool, poor!)).toBe(150n);
    // The same key with another request is a reuse, as after a success.
    expect(await rejection(ops.transferMoney({ ...request, amount: { amountMinor: 10n, currencyCode: 'USD' } }, ADMIN))).toBeInstanceOf(IdempotencyKeyReusedError);
    // A new key executes against today's balance.
    expect((await ops.transferMoney(transfer(poor!, rich!, 150n), ADMIN)).replayed).toBe(false);
  });

  it('binds ACCOUNT_NOT_FOUND and CURRENCY_MISMATCH too: the answer does not change when the ledger does', async () => {
    const late = randomUUID();
    const request = transfer(ALICE, late, 1n);
    expect(await rejection(ops.transferMoney(request, ADMIN))).toBeInstanceOf(AccountNotFoundError);
    await pool.query(`INSERT INTO bank.accounts (id, kind, currency, balance_minor) VALUES ($1, 'customer', 'USD', 0)`, [late]);
    const replayed = (await rejection(ops.transferMoney(request, ADMIN))) as AccountNotFoundError;
    expect(replayed).toBeInstanceOf(AccountNotFoundError);
    expect(replayed.metadata).toEqual({ accountId: late, role: 'recipient', replayed: 'true' });
    expect(await balanceOf(pool, late)).toBe(0n);
  });

  it('leaves the key free after a request that never executed (validation, key in flight)', async () => {
    const [from, to] = await createAccounts(pool, 2, 1_000n);
    const key = newKey();
    expect(await rejection(ops.transferMoney(transfer(from!, to!, 0n, { idempotencyKey: key }), ADMIN))).toBeInstanceOf(InvalidAmountError);
    expect(await rejection(ops.transferMoney(transfer(from!, from!, 5n, { idempotencyKey: key }), ADMIN))).toBeInstanceOf(SameAccountError);
    const request = transfer(from!, to!, 5n, { idempotencyKey: key });
    const holder = await pool.connect();
    try {
      await holder.query('BEGIN');
      await holder.query('SELECT pg_advisory_xact_lock($1::bigint)', [transferLockKey(from!, key).toString()]);
      expect(await rejection(ops.transferMoney(request, ADMIN))).toBeInstanceOf(IdempotencyKeyInFlightError);
    } finally {
      await holder.query('ROLLBACK');
      holder.release();
    }
    expect((await ops.transferMoney(request, ADMIN)).replayed).toBe(false);
  });

  it('rolls back everything when the transaction fails half way', async () => {
    const [from, to] = await createAccounts(pool, 2, 10_000n);
    // A real failure inside the write statement, after balances, transfer
    // and ledger rows were written: the outbox insert raises.
    await pool.query(`
      CREATE FUNCTION bank.fail_outbox() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.payload->>'description' = 'fail-here' THEN RAISE EXCEPTION 'injected failure'; END IF;
        RETURN NEW;
      END $$;
      CREATE TRIGGER fail_outbox BEFORE INSERT ON bank.outbox FOR EACH ROW EXECUTE FUNCTION bank.fail_outbox();`);
    try {
      const before = await snapshot();
      const request = transfer(from!, to!, 2_000n, { description: 'fail-here' });
      const error = await rejection(ops.transferMoney(request, ADMIN));
      expect((error as Error).message).toContain('injected failure');
      expect(await snapshot()).toEqual(before);
      const { rows } = await pool.query('SELECT 1 FROM bank.transfers WHERE idempotency_key = $1', [request.idempotencyKey]);
      expect(rows).toHaveLength(0);
      // The pool connection that failed is still usable afterwards.
      expect((await ops.transferMoney(transfer(from!, to!, 1n), ADMIN)).replayed).toBe(false);
    } finally {
      await pool.query('DROP TRIGGER fail_outbox ON bank.outbox; DROP FUNCTION bank.fail_outbox()');
    }
    expect(await ledgerInvariants(pool)).toEqual(HEALTHY_LEDGER);
  });

  it('has a database backstop: a customer balance can never go negative', async () => {
    const [account] = await createAccounts(pool, 1, 10n);
    await expect(pool.query('UPDATE bank.accounts SET balance_minor = -1 WHERE id = $1', [account])).rejects.toMatchObject({
      code: '23514',
      constraint: 'accounts_available_within_overdraft',
    });
    // The settlement account may go negative (checked inside a rolled-back transaction).
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      await expect(client.query('UPDATE bank.accounts SET balance_minor = -1 WHERE id = $1', [SETTLEMENT])).resolves.toMatchObject({ rowCount: 1 });
    } finally {
      await client.query('ROLLBACK');
      client.release();
    }
    expect(await ledgerInvariants(pool)).toEqual(HEALTHY_LEDGER);
  });

  it('has a database backstop: the idempotency key is unique per sender', async () => {
    const [from, to] = await createAccounts(pool, 2, 10_000n);
    const done = await ops.transferMoney(transfer(from!, to!, 5n), ADMIN);
    const { rows } = await pool.query('SELECT * FROM bank.transfers WHERE id = $1', [done.transfer.id]);
    const row = rows[0] as Record<string, unknown>;
    await expect(
      pool.query(
        `INSERT INTO bank.transfers (id, sender_account_id, recipient_account_id, amount_minor, currency, idempotency_key, request_hash)
         VALUES (gen_random_uuid(), $1, $2, 5, 'USD', $3, 'x')`,
        [row.sender_account_id, row.recipient_account_id, row.idempotency_key],
      ),
    ).rejects.toMatchObject({ code: '23505', constraint: 'transfers_sender_idempotency_key' });
  });
});

describe('batched writes (the group-commit building block)', () => {
  it('writes several transfers decided over the same locked rows in one statement', async () => {
    const [a, b, c] = await createAccounts(pool, 3, 1_000n);
    const validate = eventValidators().transfer;
    const requests = [
      [a, b, 600n],
      [a, c, 600n], // rejected: a has only 400 left after the first
      [b, c, 1_500n], // uses the credit from the first transfer
      [a, c, 400n],
    ] as const;
    const client = await pool.connect();
    let outcomes: string[] = [];
    try {
      await client.query('BEGIN');
      const { accounts } = await lockTransferBatchContext(client, [
        { senderAccountId: a!, idempotencyKey: 'batch', recipientAccountId: b! },
        { senderAccountId: a!, idempotencyKey: 'batch-2', recipientAccountId: c! },
      ]);
      const locked = new Map(accounts.map((s) => [s.id, s]));
      const working = new Map(locked);
      const plans: TransferPlan[] = [];
      outcomes = requests.map(([from, to, amountMinor], i) => {
        const request = validateTransferRequest(transfer(from!, to!, amountMinor), { maxAmountMinor: 100_000_000n }, ADMIN.subject);
        const decision = decideTransfer(request, { transferId: randomUUID(), createdAt: new Date(), eventIds: [randomUUID(), randomUUID()] }, working);
        if (!decision.ok) return `${i}:${decision.error.reason}`;
        applyPostings(working, decision.plan.postings);
        plans.push(decision.plan);
        return `${i}:ok`;
      });
      await writeTransfers(client, plans, accountUpdates(locked, plans), new Date());
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK');
      throw error;
    } finally {
      client.release();
    }
    expect(outcomes).toEqual(['0:ok', '1:INSUFFICIENT_FUNDS', '2:ok', '3:ok']);
    expect([await balanceOf(pool, a!), await balanceOf(pool, b!), await balanceOf(pool, c!)]).toEqual([0n, 100n, 2_900n]);
    const { rows: entries } = await pool.query<{ amount_minor: bigint; balance_after_minor: bigint }>(
      `SELECT amount_minor, balance_after_minor FROM bank.ledger_entries WHERE account_id = $1 AND entry_type = 'transfer' ORDER BY id`,
      [a],
    );
    expect(entries).toEqual([
      { amount_minor: -600n, balance_after_minor: 400n },
      { amount_minor: -400n, balance_after_minor: 0n },
    ]);
    const { rows: events } = await pool.query<{ payload: object }>(
      'SELECT payload FROM bank.outbox WHERE account_id = ANY($1) ORDER BY id',
      [[a, b, c]],
    );
    expect(events).toHaveLength(6);
    for (const event of events) expect(validate(event.payload)).toBe(true);
    const { rows: versions } = await pool.query<{ version: bigint }>('SELECT version FROM bank.accounts WHERE id = ANY($1)', [[a, b, c]]);
    expect(versions.map((v) => v.version)).toEqual([2n, 2n, 2n]);
    expect(await ledgerInvariants(pool)).toEqual(HEALTHY_LEDGER);
  });
});

describe('GetBalance', () => {
  it('returns the balance and currency of a customer account', async () => {
    const [account] = await createAccounts(pool, 1, 12_345n);
    const balance = await ops.getBalance(account!.toUpperCase(), ADMIN);
    expect(balance).toMatchObject({ id: account, balanceMinor: 12_345n, currency: 'USD' });
    expect(balance.updatedAt).toBeInstanceOf(Date);
  });

  it('does not find unknown or internal accounts', async () => {
    expect(await rejection(ops.getBalance('00000000-0000-4000-8000-00000000dead', ADMIN))).toBeInstanceOf(AccountNotFoundError);
    expect(await rejection(ops.getBalance(SETTLEMENT, ADMIN))).toBeInstanceOf(AccountNotFoundError);
    expect(await rejection(ops.getBalance('x', ADMIN))).toBeInstanceOf(InvalidArgumentError);
  });
});
