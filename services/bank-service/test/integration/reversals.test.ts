// ReverseTransfer on a real PostgreSQL (ADR 0017): partial then the rest,
// concurrent reversals of one transfer never exceed it, replays, the
// recipient's funds (422 unless an admin forces it, with the debt explicit),
// who may reverse, and the ledger (hash chain included) stays whole.
import { randomUUID } from 'node:crypto';
import type { Principal } from '@wallet/platform/auth';
import type { TestDatabase } from '@wallet/testkit';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LedgerVerifyUseCase } from '../../src/app/ledger-verify.js';
import type { BankOperations } from '../../src/app/operations.js';
import { ReversalUseCase } from '../../src/app/reversals.js';
import {
  IdempotencyKeyReusedError,
  InsufficientFundsError,
  ReversalExceedsRemainingError,
  ReversalWouldOverdrawError,
  RoleForbiddenError,
  TransferNotFoundError,
} from '../../src/domain/errors.js';
import type { ReverseTransferInput } from '../../src/domain/reversals.js';
import { ADMIN, principal } from '../support/callers.js';
import { balanceOf, createMigratedDatabase, HEALTHY_LEDGER, ledgerInvariants, rejection, testOperations, testPool } from '../support/helpers.js';

let db: TestDatabase;
let pool: pg.Pool;
let ops: BankOperations;
let reversals: ReversalUseCase;

beforeAll(async () => {
  db = await createMigratedDatabase('bank_reversals');
  pool = testPool(db.url);
  ops = testOperations(pool);
  reversals = new ReversalUseCase(ops.context);
});

afterAll(async () => {
  await ops?.close();
  await pool?.end();
  await db?.drop();
});

/** A customer with one account holding `balanceMinor`, opened and funded through the use cases. */
async function customer(balanceMinor: bigint): Promise<{ caller: Principal; accountId: string }> {
  const caller = principal(`user-${randomUUID()}`);
  const { account } = await ops.createAccount({ idempotencyKey: 'k', currency: 'USD', ownerId: '' }, caller);
  if (balanceMinor > 0n) await deposit(account.id, balanceMinor);
  return { caller, accountId: account.id };
}

async function deposit(accountId: string, amountMinor: bigint): Promise<void> {
  await ops.depositMoney({
    accountId,
    amount: { amountMinor, currencyCode: 'USD' },
    depositReference: randomUUID(),
    topUpId: randomUUID(),
    card: { cardLast4: '4242', cardBrand: 'visa' },
    initiatedBy: 'depositor',
  });
}

async function pay(from: { caller: Principal; accountId: string }, to: string, amountMinor: bigint): Promise<string> {
  const { transfer } = await ops.transferMoney(
    { senderAccountId: from.accountId, recipientAccountId: to, amount: { amountMinor, currencyCode: 'USD' }, idempotencyKey: randomUUID(), description: 'pay' },
    from.caller,
  );
  return transfer.id;
}

/** Sender paid `amountMinor` to a recipient that had `recipientBalanceMinor` before. */
async function paidTransfer(amountMinor: bigint, recipientBalanceMinor = 0n) {
  const sender = await customer(10_000n);
  const recipient = await customer(recipientBalanceMinor);
  const transferId = await pay(sender, recipient.accountId, amountMinor);
  return { sender, recipient, transferId };
}

const reverse = (transferId: string, extra: Partial<ReverseTransferInput> = {}): ReverseTransferInput => ({
  transferId,
  amount: undefined,
  reason: 'refund of a mistaken payment',
  idempotencyKey: randomUUID(),
  force: false,
  ...extra,
});
const usd = (amountMinor: bigint) => ({ amountMinor, currencyCode: 'USD' });

async function forcedDebtOf(accountId: string): Promise<bigint> {
  const { rows } = await pool.query<{ forced_debt_minor: bigint }>('SELECT forced_debt_minor FROM bank.accounts WHERE id = $1', [accountId]);
  return rows[0]!.forced_debt_minor;
}

describe('ReverseTransfer', () => {
  it('reverses part, then the rest, then refuses more than what remains', async () => {
    const { sender, recipient, transferId } = await paidTransfer(1_000n);
    const first = await reversals.reverse(reverse(transferId, { amount: usd(300n) }), recipient.caller);
    expect(first.reversal).toMatchObject({ amountMinor: 300n, remainingAfterMinor: 700n, fromAccountId: recipient.accountId, toAccountId: sender.accountId, forced: false });
    const rest = await reversals.reverse(reverse(transferId), recipient.caller);
    expect(rest.reversal).toMatchObject({ amountMinor: 700n, remainingAfterMinor: 0n });
    const error = await rejection(reversals.reverse(reverse(transferId, { amount: usd(1n) }), recipient.caller));
    expect(error).toBeInstanceOf(ReversalExceedsRemainingError);
    expect((error as ReversalExceedsRemainingError).metadata.remaining).toBe('0.00');
    expect(await balanceOf(pool, sender.accountId)).toBe(10_000n);
    expect(await balanceOf(pool, recipient.accountId)).toBe(0n);
    const { rows } = await pool.query<{ event_type: string; account_id: string }>(
      `SELECT event_type, account_id FROM bank.outbox WHERE payload->>'originalTransferId' = $1 ORDER BY id`,
      [transferId],
    );
    expect(rows.map((r) => r.event_type)).toEqual(['reversal_out', 'reversal_in', 'reversal_out', 'reversal_in']);
    expect(await ledgerInvariants(pool)).toEqual(HEALTHY_LEDGER);
  });

  it('never reverses more than the transfer when many reversals of it race', async () => {
    const { recipient, transferId } = await paidTransfer(100n);
    const results = await Promise.allSettled(
      Array.from({ length: 16 }, () => reversals.reverse(reverse(transferId, { amount: usd(10n) }), recipient.caller)),
    );
    const won = results.filter((r) => r.status === 'fulfilled');
    const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(won).toHaveLength(10);
    expect(lost.every((r) => r.reason instanceof ReversalExceedsRemainingError)).toBe(true);
    const { rows } = await pool.query<{ reversed_minor: bigint; n: bigint }>(
      'SELECT t.reversed_minor, (SELECT count(*) FROM bank.reversals r WHERE r.transfer_id = t.id) AS n FROM bank.transfers t WHERE id = $1',
      [transferId],
    );
    expect(rows[0]).toEqual({ reversed_minor: 100n, n: 10n });
    expect(await ledgerInvariants(pool)).toEqual(HEALTHY_LEDGER);
  });

  it('replays the same key and request, and refuses the key with another request', async () => {
    const { recipient, transferId } = await paidTransfer(500n);
    const input = reverse(transferId, { amount: usd(100n) });
    const [a, b] = await Promise.all([reversals.reverse(input, recipient.caller), reversals.reverse(input, recipient.caller)]);
    expect([a.replayed, b.replayed].sort()).toEqual([false, true]);
    expect(a.reversal.id).toBe(b.reversal.id);
    expect(b.reversal.remainingAfterMinor).toBe(400n);
    expect(await rejection(reversals.reverse({ ...input, amount: usd(101n) }, recipient.caller))).toBeInstanceOf(IdempotencyKeyReusedError);
    expect(await balanceOf(pool, recipient.accountId)).toBe(400n);
  });

  it('refuses a reversal that would overdraw the recipient and changes nothing', async () => {
    const { recipient, transferId } = await paidTransfer(1_000n);
    const elsewhere = await customer(0n);
    await pay(recipient, elsewhere.accountId, 900n);
    const error = await rejection(reversals.reverse(reverse(transferId), recipient.caller));
    expect(error).toBeInstanceOf(ReversalWouldOverdrawError);
    expect(await balanceOf(pool, recipient.accountId)).toBe(100n);
    const { rows } = await pool.query<{ n: bigint }>('SELECT count(*) AS n FROM bank.reversals WHERE transfer_id = $1', [transferId]);
    expect(rows[0]!.n).toBe(0n);
  });

  it('lets an admin force it: the debt below -overdraft is explicit, cannot be spent into, and shrinks as money comes in', async () => {
    const { sender, recipient, transferId } = await paidTransfer(1_000n);
    const elsewhere = await customer(0n);
    await pay(recipient, elsewhere.accountId, 900n);
    expect(await rejection(reversals.reverse(reverse(transferId, { force: true }), recipient.caller))).toBeInstanceOf(RoleForbiddenError);

    const forced = await reversals.reverse(reverse(transferId, { force: true }), ADMIN);
    expect(forced.reversal).toMatchObject({ forced: true, forcedDebtMinor: 900n, amountMinor: 1_000n, initiatedBy: ADMIN.subject });
    expect(await balanceOf(pool, recipient.accountId)).toBe(-900n);
    expect(await balanceOf(pool, sender.accountId)).toBe(10_000n);
    expect(await forcedDebtOf(recipient.accountId)).toBe(900n);
    expect(await rejection(pay(recipient, elsewhere.accountId, 1n))).toBeInstanceOf(InsufficientFundsError);

    await deposit(recipient.accountId, 400n);
    expect(await forcedDebtOf(recipient.accountId)).toBe(500n);
    await deposit(recipient.accountId, 600n);
    expect(await forcedDebtOf(recipient.accountId)).toBe(0n);
    expect(await balanceOf(pool, recipient.accountId)).toBe(100n);
    const invariants = await ledgerInvariants(pool);
    expect({ ...invariants, negativeCustomerAccounts: 0 }).toEqual(HEALTHY_LEDGER);
  });

  it('does not force when the funds suffice, even if asked to', async () => {
    const { transferId } = await paidTransfer(100n);
    const result = await reversals.reverse(reverse(transferId, { force: true }), ADMIN);
    expect(result.reversal).toMatchObject({ forced: false, forcedDebtMinor: 0n });
  });

  it('is for the recipient\'s owner or admin: the sender hears ROLE_FORBIDDEN, strangers TRANSFER_NOT_FOUND, support ROLE_FORBIDDEN', async () => {
    const { sender, transferId } = await paidTransfer(100n);
    expect(await rejection(reversals.reverse(reverse(transferId), sender.caller))).toBeInstanceOf(RoleForbiddenError);
    expect(await rejection(reversals.reverse(reverse(transferId), principal(`stranger-${randomUUID()}`)))).toBeInstanceOf(TransferNotFoundError);
    expect(await rejection(reversals.reverse(reverse(transferId), principal('support-1', ['support'])))).toBeInstanceOf(RoleForbiddenError);
    expect(await rejection(reversals.reverse(reverse(randomUUID()), ADMIN))).toBeInstanceOf(TransferNotFoundError);
  });

  it('leaves a hash chain that verifies, reversal entries included', async () => {
    const verifier = new LedgerVerifyUseCase(ops.context);
    const result = await verifier.verify({ accountId: null, afterAccountId: null, accountsMax: 100_000 });
    expect(result.firstBreak).toBeUndefined();
    expect(result.ok).toBe(true);
  });
});
