// The per-account hash chain (ADR 0019) on a real PostgreSQL: written by the
// trigger for every entry, also when one statement writes several entries of
// one account (a group-commit batch); VerifyLedger recomputes it and finds a
// row edited or deleted behind the service's back.
import { randomUUID } from 'node:crypto';
import type { TestDatabase } from '@wallet/testkit';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LedgerVerifyUseCase, type VerifyLedgerInput } from '../../src/app/ledger-verify.js';
import type { BankOperations, TransferBatchReport } from '../../src/app/operations.js';
import { ADMIN } from '../support/callers.js';
import { createAccounts, createMigratedDatabase, testOperations, testPool } from '../support/helpers.js';

let db: TestDatabase;
let pool: pg.Pool;
let ops: BankOperations;
let verifier: LedgerVerifyUseCase;
const batches: TransferBatchReport[] = [];

beforeAll(async () => {
  db = await createMigratedDatabase('bank_ledger_chain');
  pool = testPool(db.url);
  ops = testOperations(pool, { onTransferBatch: (report) => batches.push(report) });
  // Small chunks, so the keyset walk over several chunks is exercised too.
  verifier = new LedgerVerifyUseCase(ops.context, { entriesMax: 1_000_000, chunkRows: 3 });
});

afterAll(async () => {
  await ops?.close();
  await pool?.end();
  await db?.drop();
});

const one = (accountId: string): VerifyLedgerInput => ({ accountId, afterAccountId: null, accountsMax: 1 });

async function transfer(sender: string, recipient: string, amountMinor: bigint): Promise<void> {
  await ops.transferMoney(
    { senderAccountId: sender, recipientAccountId: recipient, amount: { amountMinor, currencyCode: 'USD' }, idempotencyKey: randomUUID(), description: '' },
    ADMIN,
  );
}

/** A hot recipient paid by many senders at once: group commit writes several of its entries in one statement. */
async function hotRecipient(): Promise<{ recipient: string; senders: string[] }> {
  const [recipient, ...senders] = await createAccounts(pool, 21, 10_000n);
  await Promise.all(senders.map((sender) => transfer(sender, recipient!, 7n)));
  return { recipient: recipient!, senders };
}

/** Edits behind the service's back: a superuser session that skips triggers (the append-only guard included). */
async function tamper(sql: string, values: unknown[]): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query('SET session_replication_role = replica');
    await client.query(sql, values);
    await client.query('SET session_replication_role = DEFAULT');
  } finally {
    client.release();
  }
}

async function entryIds(accountId: string): Promise<bigint[]> {
  const { rows } = await pool.query<{ id: bigint }>('SELECT id FROM bank.ledger_entries WHERE account_id = $1 ORDER BY id', [accountId]);
  return rows.map((r) => r.id);
}

describe('ledger hash chain', () => {
  it('chains every entry of an account, also several entries written by one batched statement', async () => {
    const { recipient } = await hotRecipient();
    expect(batches.some((b) => b.size > 1)).toBe(true);
    const result = await verifier.verify(one(recipient));
    expect(result).toMatchObject({ ok: true, accountsChecked: 1, entriesChecked: 21, firstBreak: undefined });
    // The trigger spells the canonical text out (speed); it must agree with bank.ledger_entry_canonical (backfill).
    const { rows } = await pool.query<{ n: bigint }>(
      `SELECT count(*) AS n FROM bank.ledger_entries e WHERE entry_hash <> sha256(convert_to(bank.ledger_entry_canonical(e), 'UTF8'))`,
    );
    expect(rows[0]!.n).toBe(0n);
  });

  it('verifies the whole ledger page by page, settlement account included', async () => {
    let after: string | null = null;
    let accounts = 0;
    for (let page = 0; page < 1_000; page += 1) {
      const result = await verifier.verify({ accountId: null, afterAccountId: after, accountsMax: 7 });
      expect(result.firstBreak).toBeUndefined();
      accounts += result.accountsChecked;
      if (!result.nextAfterAccountId) break;
      after = result.nextAfterAccountId;
    }
    const { rows } = await pool.query<{ n: bigint }>('SELECT count(*) AS n FROM bank.accounts');
    expect(BigInt(accounts)).toBe(rows[0]!.n);
  });

  it('refuses updates and deletes of ledger entries (append-only)', async () => {
    const [account] = await createAccounts(pool, 1, 100n);
    await expect(pool.query('UPDATE bank.ledger_entries SET amount_minor = 1 WHERE account_id = $1', [account])).rejects.toThrow(/append-only/);
    await expect(pool.query('DELETE FROM bank.ledger_entries WHERE account_id = $1', [account])).rejects.toThrow(/append-only/);
  });

  it('detects an amount edited behind the service\'s back at that entry', async () => {
    const { recipient } = await hotRecipient();
    const ids = await entryIds(recipient);
    await tamper('UPDATE bank.ledger_entries SET amount_minor = amount_minor + 1 WHERE id = $1', [ids[5]]);
    const result = await verifier.verify(one(recipient));
    expect(result.ok).toBe(false);
    expect(result.firstBreak).toEqual({ accountId: recipient, entryId: ids[5], reason: 'hash mismatch' });
  });

  it('detects an edit whose hash was recomputed by the database function: the next entry no longer links', async () => {
    const { recipient } = await hotRecipient();
    const ids = await entryIds(recipient);
    await tamper(
      `UPDATE bank.ledger_entries e SET amount_minor = amount_minor + 1, balance_after_minor = balance_after_minor + 1 WHERE id = $1;`,
      [ids[3]],
    );
    await tamper(`UPDATE bank.ledger_entries e SET entry_hash = sha256(convert_to(bank.ledger_entry_canonical(e), 'UTF8')) WHERE id = $1`, [ids[3]]);
    const result = await verifier.verify(one(recipient));
    expect(result.firstBreak).toEqual({ accountId: recipient, entryId: ids[4], reason: 'previous hash mismatch' });
  });

  it('detects a deleted entry at the entry after it, and a deleted last entry at the account balance', async () => {
    const { recipient } = await hotRecipient();
    const ids = await entryIds(recipient);
    await tamper('DELETE FROM bank.ledger_entries WHERE id = $1', [ids[10]]);
    expect((await verifier.verify(one(recipient))).firstBreak).toEqual({ accountId: recipient, entryId: ids[11], reason: 'previous hash mismatch' });

    const other = await hotRecipient();
    const otherIds = await entryIds(other.recipient);
    await tamper('DELETE FROM bank.ledger_entries WHERE id = $1', [otherIds.at(-1)]);
    expect((await verifier.verify(one(other.recipient))).firstBreak).toEqual({
      accountId: other.recipient,
      entryId: otherIds.at(-2),
      reason: 'account balance mismatch',
    });
  });

  it('reports the first break of a ledger-wide walk and where to continue', async () => {
    const result = await verifier.verify({ accountId: null, afterAccountId: null, accountsMax: 100_000 });
    expect(result.ok).toBe(false);
    expect(result.firstBreak).toBeDefined();
    expect(result.nextAfterAccountId).toBe(result.firstBreak!.accountId);
  });
});
