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

  it('binds a refused reversal to its key: the same request replays the refusal after money arrived, another request is a key reuse', async () => {
    const { recipient, transferId } = await paidTransfer(1_000n);
    const elsewhere = await customer(0n);
    await pay(recipient, elsewhere.accountId, 900n);
    const input = reverse(transferId);
    const first = await rejection(reversals.reverse(input, recipient.caller));
    expect(first).toBeInstanceOf(ReversalWouldOverdrawError);
    expect((first as ReversalWouldOverdrawError).metadata.replayed).toBeUndefined();
    await deposit(recipient.accountId, 5_000n);
    const again = await rejection(reversals.reverse(input, recipient.caller));
    expect(again).toBeInstanceOf(ReversalWouldOverdrawError);
    expect((again as ReversalWouldOverdrawError).metadata).toEqual({ accountId: recipient.accountId, replayed: 'true' });
    expect(await rejection(reversals.reverse({ ...input, amount: usd(10n) }, recipient.caller))).toBeInstanceOf(IdempotencyKeyReusedError);
    // A new key is a new request: the recipient is funded now.
    const fresh = await reversals.reverse(reverse(transferId), recipient.caller);
    expect(fresh.reversal.amountMinor).toBe(1_000n);
    expect(await balanceOf(pool, recipient.accountId)).toBe(5_100n - 1_000n);
  });

  it('binds REVERSAL_EXCEEDS_REMAINING with its remaining, and racing retries of one refused key all replay it', async () => {
    const { recipient, transferId } = await paidTransfer(100n);
    await reversals.reverse(reverse(transferId, { amount: usd(60n) }), recipient.caller);
    const input = reverse(transferId, { amount: usd(50n) });
    const results = await Promise.allSettled(Array.from({ length: 6 }, () => reversals.reverse(input, recipient.caller)));
    const errors = results.map((r) => (r.status === 'rejected' ? (r.reason as ReversalExceedsRemainingError) : undefined));
    expect(errors.every((e) => e instanceof ReversalExceedsRemainingError && e.metadata.remaining === '0.40')).toBe(true);
    expect(errors.filter((e) => e?.metadata.replayed === 'true')).toHaveLength(5);
    const { rows } = await pool.query<{ n: bigint }>('SELECT count(*) AS n FROM bank.reversal_failures WHERE transfer_id = $1', [transferId]);
    expect(rows[0]!.n).toBe(1n);
  });

  it('does not bind what never executed: a stranger\'s or a malformed attempt leaves the key free for the recipient', async () => {
    const { recipient, transferId } = await paidTransfer(100n);
    const input = reverse(transferId, { amount: usd(10n) });
    expect(await rejection(reversals.reverse(input, principal(`stranger-${randomUUID()}`)))).toBeInstanceOf(TransferNotFoundError);
    expect(await rejection(reversals.reverse({ ...input, amount: { amountMinor: 10n, currencyCode: 'EUR' } }, recipient.caller))).toMatchObject({ reason: 'INVALID_ARGUMENT' });
    const done = await reversals.reverse(input, recipient.caller);
    expect(done).toMatchObject({ replayed: false, reversal: { amountMinor: 10n } });
  });

  it('lists a transfer\'s reversals oldest first, paged, with what remains, to both parties, support and admin only', async () => {
    const { sender, recipient, transferId } = await paidTransfer(1_000n);
    const made = [];
    for (const amountMinor of [100n, 200n, 300n]) made.push((await reversals.reverse(reverse(transferId, { amount: usd(amountMinor) }), recipient.caller)).reversal);
    const first = await reversals.listReversals({ transferId, pageSize: 2, pageToken: '' }, sender.caller);
    expect(first.transfer).toMatchObject({ id: transferId, amountMinor: 1_000n, reversedMinor: 600n });
    expect(first.reversals.map((r) => r.id)).toEqual(made.slice(0, 2).map((r) => r.id));
    expect(first.reversals.map((r) => r.remainingAfterMinor)).toEqual([900n, 700n]);
    expect(first.nextAfterReversalId).toBe(made[1]!.id);
    const second = await reversals.listReversals({ transferId, pageSize: 2, pageToken: first.nextAfterReversalId! }, recipient.caller);
    expect(second.reversals.map((r) => r.id)).toEqual([made[2]!.id]);
    expect(second.nextAfterReversalId).toBeNull();
    for (const reader of [ADMIN, principal('support-1', ['support'])]) {
      expect((await reversals.listReversals({ transferId, pageSize: 0, pageToken: '' }, reader)).reversals).toHaveLength(3);
    }
    expect(await rejection(reversals.listReversals({ transferId, pageSize: 0, pageToken: '' }, principal(`stranger-${randomUUID()}`)))).toBeInstanceOf(TransferNotFoundError);
    expect(await rejection(reversals.listReversals({ transferId: randomUUID(), pageSize: 0, pageToken: '' }, ADMIN))).toBeInstanceOf(TransferNotFoundError);
    expect(await rejection(reversals.listReversals({ transferId, pageSize: 0, pageToken: randomUUID() }, ADMIN))).toMatchObject({ reason: 'INVALID_ARGUMENT' });
    expect(await rejection(reversals.listReversals({ transferId, pageSize: 101, pageToken: '' }, ADMIN))).toMatchObject({ reason: 'INVALID_ARGUMENT' });
    const none = await reversals.listReversals({ transferId: (await paidTransfer(5n)).transferId, pageSize: 0, pageToken: '' }, ADMIN);
    expect(none).toMatchObject({ reversals: [], nextAfterReversalId: null, transfer: { reversedMinor: 0n } });
  });

  it('leaves a hash chain that verifies, reversal entries included', async () => {
    const verifier = new LedgerVerifyUseCase(ops.context);
    const result = await verifier.verify({ accountId: null, afterAccountId: null, accountsMax: 100_000 });
    expect(result.firstBreak).toBeUndefined();
    expect(result.ok).toBe(true);
  });
});
