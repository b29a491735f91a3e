// Balances in time and statements on a real PostgreSQL (ADR 0020): the
// balance at an instant is the sum of the entries up to it; a statement's
// opening, running balances and closing agree with the ledger, read in
// bounded chunks from one snapshot.
import { randomUUID } from 'node:crypto';
import type { TestDatabase } from '@wallet/testkit';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BankOperations } from '../../src/app/operations.js';
import { StatementUseCase, type StatementPart } from '../../src/app/statements.js';
import { AccountNotFoundError, InvalidArgumentError, StorageUnavailableError } from '../../src/domain/errors.js';
import { StatementTooLargeError, type StatementLine } from '../../src/domain/statements.js';
import { ADMIN, principal, SUPPORT_USER } from '../support/callers.js';
import { balanceOf, createMigratedDatabase, HEALTHY_LEDGER, ledgerInvariants, SETTLEMENT, testOperations, testPool } from '../support/helpers.js';

let db: TestDatabase;
let pool: pg.Pool;
/** The wall clock of the bank under test: moved by the tests, so entries get known created_at. */
let nowMs = Date.parse('2026-03-01T10:00:00.000Z');
let ops: BankOperations;

const SETTINGS = { chunkSizeMax: 2, entriesMax: 50, concurrencyMax: 2, writeWaitMsMax: 5_000 };

beforeAll(async () => {
  db = await createMigratedDatabase('bank_statements');
  pool = testPool(db.url);
  ops = testOperations(pool, { clock: () => new Date(nowMs) });
});

afterAll(async () => {
  await ops?.close();
  await pool?.end();
  await db?.drop();
});

const at = (iso: string) => new Date(iso);

async function openAccount(bank: BankOperations = ops) {
  const caller = principal(`user-${randomUUID()}`);
  const { account } = await bank.createAccount({ idempotencyKey: randomUUID(), currency: 'USD', ownerId: '' }, caller);
  return { caller, accountId: account.id };
}

async function deposit(accountId: string, amountMinor: bigint, bank: BankOperations = ops) {
  await bank.depositMoney({
    accountId,
    amount: { amountMinor, currencyCode: 'USD' },
    depositReference: randomUUID(),
    topUpId: randomUUID(),
    card: { cardLast4: '4242', cardBrand: 'visa' },
    initiatedBy: 'test',
  });
}

async function transfer(from: string, to: string, amountMinor: bigint, bank: BankOperations = ops) {
  const { transfer: record } = await bank.transferMoney(
    { senderAccountId: from, recipientAccountId: to, amount: { amountMinor, currencyCode: 'USD' }, idempotencyKey: randomUUID(), description: 'rent' },
    ADMIN,
  );
  return record;
}

async function collect(parts: AsyncGenerator<StatementPart>) {
  const collected: StatementPart[] = [];
  for await (const part of parts) collected.push(part);
  const header = collected[0];
  const footer = collected.at(-1);
  if (header?.kind !== 'header' || footer?.kind !== 'footer') throw new Error('a statement starts with its header and ends with its footer');
  const chunks = collected.filter((p): p is Extract<StatementPart, { kind: 'entries' }> => p.kind === 'entries');
  return { header, footer, chunks, lines: chunks.flatMap((c): StatementLine[] => c.entries) };
}

describe('GetBalanceAt', () => {
  it('answers the posted balance at several instants from the entries up to each (inclusive)', async () => {
    const statements = new StatementUseCase(ops.context, SETTINGS);
    const payee = await openAccount();
    nowMs = Date.parse('2026-03-01T10:00:00.000Z');
    const { accountId, caller } = await openAccount();
    nowMs = Date.parse('2026-03-02T09:00:00.000Z');
    await deposit(accountId, 10_000n);
    nowMs = Date.parse('2026-03-03T09:00:00.000Z');
    await transfer(accountId, payee.accountId, 2_500n);
    nowMs = Date.parse('2026-03-04T09:00:00.000Z');
    await deposit(accountId, 50n);

    const balanceAt = async (iso: string) => (await statements.getBalanceAt({ accountId, at: at(iso) }, caller)).balanceMinor;
    expect(await balanceAt('2026-03-01T00:00:00Z')).toBe(0n);
    expect(await balanceAt('2026-03-02T08:59:59.999Z')).toBe(0n);
    expect(await balanceAt('2026-03-02T09:00:00.000Z')).toBe(10_000n);
    expect(await balanceAt('2026-03-03T08:00:00Z')).toBe(10_000n);
    expect(await balanceAt('2026-03-03T09:00:00.000Z')).toBe(7_500n);
    expect(await balanceAt('2026-03-05T00:00:00Z')).toBe(7_550n);
    expect(await balanceAt('9999-12-31T23:59:59Z')).toBe(await balanceOf(pool, accountId));
    // Before year 1 (clamped): nothing yet, not an error.
    expect(await balanceAt('-000100-01-01T00:00:00Z')).toBe(0n);
  });

  it('counts by created_at, not by entry id: a later-committed entry with an earlier time belongs to its time', async () => {
    // Two "replicas" whose clocks differ: the entry written second (higher id) carries the earlier time.
    const statements = new StatementUseCase(ops.context, SETTINGS);
    let aheadMs = Date.parse('2026-04-01T12:00:10.000Z');
    let behindMs = Date.parse('2026-04-01T12:00:05.000Z');
    const ahead = testOperations(pool, { clock: () => new Date(aheadMs) });
    const behind = testOperations(pool, { clock: () => new Date(behindMs) });
    try {
      const { accountId, caller } = await openAccount(behind);
      behindMs += 1;
      await deposit(accountId, 1_000n, ahead); // created 12:00:10, lower id
      await deposit(accountId, 300n, behind); // created 12:00:05, higher id
      aheadMs += 1;
      const balanceAt = async (iso: string) => (await statements.getBalanceAt({ accountId, at: at(iso) }, caller)).balanceMinor;
      expect(await balanceAt('2026-04-01T12:00:07Z')).toBe(300n);
      expect(await balanceAt('2026-04-01T12:00:11Z')).toBe(1_300n);

      const { lines, footer } = await collect(statements.statement({ accountId, from: at('2026-04-01T00:00:00Z'), to: at('2026-04-02T00:00:00Z'), entriesMax: 0 }, caller));
      expect(lines.map((l) => [l.amountMinor, l.balanceAfterMinor])).toEqual([
        [300n, 300n],
        [1_000n, 1_300n],
      ]);
      expect(footer.totals.closingMinor).toBe(1_300n);
    } finally {
      await ahead.close();
      await behind.close();
    }
  });

  it('refuses a malformed request, and hides accounts the caller may not read like unknown ones', async () => {
    const statements = new StatementUseCase(ops.context, SETTINGS);
    const { accountId } = await openAccount();
    const stranger = principal(`user-${randomUUID()}`);
    await expect(statements.getBalanceAt({ accountId: 'nope', at: new Date() }, ADMIN)).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(statements.getBalanceAt({ accountId, at: undefined }, ADMIN)).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(statements.getBalanceAt({ accountId, at: new Date() }, stranger)).rejects.toBeInstanceOf(AccountNotFoundError);
    await expect(statements.getBalanceAt({ accountId: SETTLEMENT, at: new Date() }, ADMIN)).rejects.toBeInstanceOf(AccountNotFoundError);
    const support = principal(SUPPORT_USER, ['support']);
    expect((await statements.getBalanceAt({ accountId, at: new Date() }, support)).balanceMinor).toBe(0n);
  });
});

describe('GetStatement', () => {
  it('opening = balance at from, running balances add up in chunks, closing = the ledger balance, totals in and out', async () => {
    const statements = new StatementUseCase(ops.context, SETTINGS);
    const other = await openAccount();
    nowMs = Date.parse('2026-05-01T08:00:00.000Z');
    const { accountId, caller } = await openAccount();
    await deposit(accountId, 5_000n); // before the range: in the opening balance
    nowMs = Date.parse('2026-05-02T08:00:00.000Z');
    await deposit(accountId, 1_000n);
    const out = await transfer(accountId, other.accountId, 700n);
    await deposit(other.accountId, 900n);
    await transfer(other.accountId, accountId, 200n);
    await deposit(accountId, 10n);
    nowMs = Date.parse('2026-05-03T08:00:00.000Z');
    const range = { accountId, from: at('2026-05-02T00:00:00Z'), to: at('2026-05-03T00:00:00Z'), entriesMax: 0 };

    const { header, footer, chunks, lines } = await collect(statements.statement(range, caller));
    expect(header).toMatchObject({ accountId, currency: 'USD', openingMinor: 5_000n });
    expect((await statements.getBalanceAt({ accountId, at: new Date(range.from.getTime() - 1) }, caller)).balanceMinor).toBe(header.openingMinor);
    expect(chunks.map((c) => c.entries.length)).toEqual([2, 2]); // chunkSizeMax 2: bounded messages
    expect(lines.map((l) => l.amountMinor)).toEqual([1_000n, -700n, 200n, 10n]);
    expect(lines.map((l) => l.balanceAfterMinor)).toEqual([6_000n, 5_300n, 5_500n, 5_510n]);
    expect(lines[1]).toMatchObject({ entryType: 'transfer', referenceId: out.id, counterpartyAccountId: other.accountId, description: 'rent' });
    expect(lines[0]).toMatchObject({ entryType: 'deposit', description: 'Card top-up 4242', counterpartyAccountId: '' });
    expect(footer.totals).toEqual({ closingMinor: 5_510n, totalInMinor: 1_210n, totalOutMinor: 700n, entryCount: 4 });
    expect(footer.totals.closingMinor).toBe(await balanceOf(pool, accountId));
    expect(await ledgerInvariants(pool)).toMatchObject(HEALTHY_LEDGER);
  });

  it('is read from one snapshot: an entry committed while the statement streams is in none of its parts', async () => {
    const statements = new StatementUseCase(ops.context, SETTINGS);
    nowMs = Date.parse('2026-06-01T08:00:00.000Z');
    const { accountId, caller } = await openAccount();
    for (let i = 0; i < 5; i += 1) await deposit(accountId, 100n);
    const parts = statements.statement({ accountId, from: at('2026-06-01T00:00:00Z'), to: at('2026-06-02T00:00:00Z'), entriesMax: 0 }, caller);
    const first = await parts.next();
    expect(first.value).toMatchObject({ kind: 'header', openingMinor: 0n });
    await deposit(accountId, 7n); // committed meanwhile, inside the range
    const rest = [];
    for await (const part of parts) rest.push(part);
    const lines = rest.flatMap((p) => (p.kind === 'entries' ? p.entries : []));
    expect(lines).toHaveLength(5);
    expect(rest.at(-1)).toMatchObject({ kind: 'footer', totals: { closingMinor: 500n, entryCount: 5 } });
  });

  it('refuses a range holding more than entries_max before the header, and bad ranges', async () => {
    const statements = new StatementUseCase(ops.context, SETTINGS);
    nowMs = Date.parse('2026-07-01T08:00:00.000Z');
    const { accountId, caller } = await openAccount();
    for (let i = 0; i < 4; i += 1) await deposit(accountId, 1n);
    const range = { accountId, from: at('2026-07-01T00:00:00Z'), to: at('2026-07-02T00:00:00Z') };
    const parts = statements.statement({ ...range, entriesMax: 3 }, caller);
    await expect(parts.next()).rejects.toBeInstanceOf(StatementTooLargeError);
    // Exactly the maximum is fine; the server's own maximum caps a larger request.
    expect((await collect(statements.statement({ ...range, entriesMax: 4 }, caller))).lines).toHaveLength(4);
    const tight = new StatementUseCase(ops.context, { ...SETTINGS, entriesMax: 3 });
    await expect(tight.statement({ ...range, entriesMax: 1_000 }, caller).next()).rejects.toMatchObject({ metadata: { entries_max: '3' } });
    await expect(statements.statement({ ...range, from: range.to, entriesMax: 0 }, caller).next()).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(statements.statement({ ...range, to: undefined, entriesMax: 0 }, caller).next()).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(statements.statement({ ...range, entriesMax: 0 }, principal('someone-else')).next()).rejects.toBeInstanceOf(AccountNotFoundError);
  });

  it('gives the connection and the slot back when the reader stops early, and sheds statements beyond the concurrency bound', async () => {
    const statements = new StatementUseCase(ops.context, SETTINGS);
    nowMs = Date.parse('2026-08-01T08:00:00.000Z');
    const { accountId, caller } = await openAccount();
    for (let i = 0; i < 6; i += 1) await deposit(accountId, 1n);
    const request = { accountId, from: at('2026-08-01T00:00:00Z'), to: at('2026-08-02T00:00:00Z'), entriesMax: 0 };
    // Far more early stops than slots: a leaked slot or connection would shed or hang the later ones.
    for (let i = 0; i < 3 * SETTINGS.concurrencyMax; i += 1) {
      const parts = statements.statement(request, caller);
      await parts.next();
      await parts.return(undefined);
    }
    const open = [statements.statement(request, caller), statements.statement(request, caller)];
    await Promise.all(open.map((p) => p.next()));
    await expect(statements.statement(request, caller).next()).rejects.toBeInstanceOf(StorageUnavailableError);
    await Promise.all(open.map((p) => p.return(undefined)));
    expect((await collect(statements.statement(request, caller))).footer.totals.closingMinor).toBe(6n);
    const { rows } = await pool.query<{ n: bigint }>(
      `SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND state LIKE 'idle in transaction%'`,
    );
    expect(rows[0]!.n).toBe(0n);
  });
});
