// Every money movement writes its events to the outbox in the same
// transaction; each row must match the Kafka contract exactly.
import type { TestDatabase } from '@wallet/testkit';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BankOperations } from '../../src/app/operations.js';
import { createAccounts, createMigratedDatabase, eventValidators, testOperations, testPool } from '../support/helpers.js';
import { ADMIN, DEPOSITOR } from '../support/callers.js';

let db: TestDatabase;
let pool: pg.Pool;
let ops: BankOperations;

interface OutboxRow {
  id: bigint;
  account_id: string;
  event_type: string;
  payload: Record<string, unknown>;
}

beforeAll(async () => {
  db = await createMigratedDatabase('bank_outbox');
  pool = testPool(db.url);
  ops = testOperations(pool);
});

afterAll(async () => {
  await pool?.end();
  await db?.drop();
});

describe('outbox events', () => {
  it('are valid against the JSON Schemas, keyed by their account, one per affected account', async () => {
    const [a, b, c] = await createAccounts(pool, 3, 10_000n);
    const t1 = await ops.transferMoney({ senderAccountId: a!, recipientAccountId: b!, amount: { amountMinor: 1_050n, currencyCode: 'USD' }, idempotencyKey: 'o1', description: 'with "quotes" \\ and ünïcode' }, ADMIN);
    const t2 = await ops.transferMoney({ senderAccountId: b!, recipientAccountId: c!, amount: { amountMinor: 1n, currencyCode: 'USD' }, idempotencyKey: 'o2', description: '' }, ADMIN);
    const d1 = await ops.depositMoney({ accountId: c!, amount: { amountMinor: 99_999n, currencyCode: 'USD' }, depositReference: 'o3', topUpId: '7a000000-0000-4000-8000-000000000001', card: { cardLast4: '0005', cardBrand: '' }, initiatedBy: DEPOSITOR });
    // A replay writes no new events.
    await ops.transferMoney({ senderAccountId: a!, recipientAccountId: b!, amount: { amountMinor: 1_050n, currencyCode: 'USD' }, idempotencyKey: 'o1', description: 'with "quotes" \\ and ünïcode' }, ADMIN);

    const { rows } = await pool.query<OutboxRow>('SELECT id, account_id, event_type, payload FROM bank.outbox ORDER BY id');
    expect(rows).toHaveLength(5);
    const validate = eventValidators();
    for (const row of rows) {
      const validator = row.event_type === 'topup' ? validate.topup : validate.transfer;
      expect(validator(row.payload), `${row.event_type}: ${JSON.stringify(validator.errors)}`).toBe(true);
      expect(row.payload.accountId).toBe(row.account_id);
      expect(row.payload.eventType).toBe(row.event_type);
    }
    expect(new Set(rows.map((r) => r.payload.eventId)).size).toBe(5);

    expect(rows.map((r) => [r.event_type, r.account_id, r.payload.amount])).toEqual([
      ['transfer_out', a, '10.50'],
      ['transfer_in', b, '10.50'],
      ['transfer_out', b, '0.01'],
      ['transfer_in', c, '0.01'],
      ['topup', c, '999.99'],
    ]);
    expect(rows[0]!.payload).toMatchObject({
      counterpartyAccountId: b,
      transferId: t1.transfer.id,
      description: 'with "quotes" \\ and ünïcode',
      occurredAt: t1.transfer.createdAt.toISOString(),
      schemaVersion: 1,
      currency: 'USD',
    });
    expect(rows[2]!.payload).not.toHaveProperty('description');
    expect(rows[3]!.payload).toMatchObject({ transferId: t2.transfer.id, counterpartyAccountId: b });
    expect(rows[4]!.payload).toMatchObject({ depositId: d1.deposit.id, topUpId: '7a000000-0000-4000-8000-000000000001', cardLast4: '0005' });
    expect(rows[4]!.payload).not.toHaveProperty('cardBrand');
  });

  it('keep per-account order equal to commit order under concurrency', async () => {
    const [hot, ...others] = await createAccounts(pool, 6, 100_000n);
    await Promise.all(
      others.flatMap((other, i) =>
        Array.from({ length: 10 }, (_, j) =>
          ops.transferMoney({ senderAccountId: hot!, recipientAccountId: other, amount: { amountMinor: 10n, currencyCode: 'USD' }, idempotencyKey: `ord-${i}-${j}`, description: '' }, ADMIN),
        ),
      ),
    );
    // The sender's transfer_out events, in outbox id order, follow its ledger
    // entries (balance_after strictly decreasing), i.e. the commit order.
    const { rows } = await pool.query<{ transfer_id: string }>(
      `SELECT payload->>'transferId' AS transfer_id FROM bank.outbox WHERE account_id = $1 AND event_type = 'transfer_out' ORDER BY id`,
      [hot],
    );
    const { rows: entries } = await pool.query<{ transfer_id: string }>(
      'SELECT transfer_id FROM bank.ledger_entries WHERE account_id = $1 AND entry_type = $2 ORDER BY balance_after_minor DESC',
      [hot, 'transfer'],
    );
    expect(rows).toHaveLength(50);
    expect(rows.map((r) => r.transfer_id)).toEqual(entries.map((e) => e.transfer_id));
  });
});
