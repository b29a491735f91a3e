// RefundDeposit, GetRefund, CancelRefund against the real ledger (ADR 0018):
// double entry, at most the deposit, funds checked under lock, replays,
// failures bound to the reference, voids as proof, cancels credited back once.
import { randomUUID } from 'node:crypto';
import type { TestDatabase } from '@wallet/testkit';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BankOperations } from '../../src/app/operations.js';
import { RefundUseCase } from '../../src/app/refunds.js';
import {
  DepositNotFoundError,
  IdempotencyKeyReusedError,
  InsufficientFundsError,
  InvalidArgumentError,
  RefundExceedsDepositError,
  RefundNotCancellableError,
  RefundReferenceVoidedError,
  type BankError,
} from '../../src/domain/errors.js';
import type { RefundDepositInput } from '../../src/domain/refunds.js';
import { DEPOSITOR } from '../support/callers.js';
import { balanceOf, createAccounts, createMigratedDatabase, HEALTHY_LEDGER, ledgerInvariants, rejection, SETTLEMENT, testOperations, testPool } from '../support/helpers.js';

let db: TestDatabase;
let pool: pg.Pool;
let ops: BankOperations;
let refunds: RefundUseCase;

beforeAll(async () => {
  db = await createMigratedDatabase('bank_refunds');
  pool = testPool(db.url);
  ops = testOperations(pool);
  refunds = new RefundUseCase(ops.context);
});

afterAll(async () => {
  await pool?.end();
  await db?.drop();
});

/** A fresh account holding one top-up of `amountMinor` (and `extraMinor` more from its seed). */
async function toppedUp(amountMinor: bigint, extraMinor = 0n): Promise<{ accountId: string; topUpId: string }> {
  const [accountId] = await createAccounts(pool, 1, extraMinor);
  const topUpId = randomUUID();
  await ops.depositMoney({
    accountId: accountId!,
    amount: { amountMinor, currencyCode: 'USD' },
    depositReference: `topup-${topUpId}`,
    topUpId,
    card: { cardLast4: '4242', cardBrand: 'visa' },
    initiatedBy: DEPOSITOR,
  });
  return { accountId: accountId!, topUpId };
}

function refundOf(topUpId: string, amountMinor: bigint, extra: Partial<RefundDepositInput> = {}): RefundDepositInput {
  return { topUpId, amount: { amountMinor, currencyCode: 'USD' }, refundReference: randomUUID(), initiatedBy: DEPOSITOR, ...extra };
}

async function outboxOf(accountId: string): Promise<Array<{ event_type: string; payload: Record<string, unknown> }>> {
  const { rows } = await pool.query<{ event_type: string; payload: Record<string, unknown> }>(
    `SELECT event_type, payload FROM bank.outbox WHERE account_id = $1 ORDER BY id`,
    [accountId],
  );
  return rows;
}

describe('RefundDeposit', () => {
  it('takes a UUID reference (the card adapter\'s refund id) as the refund id, in the entries and the refund and refund_cancelled events', async () => {
    const { accountId, topUpId } = await toppedUp(1_000n);
    const reference = randomUUID().toUpperCase();
    const debited = await refunds.refundDeposit(refundOf(topUpId, 300n, { refundReference: reference }));
    expect(debited.refund.id).toBe(reference.toLowerCase());
    expect(debited.refund.refundReference).toBe(reference);
    await refunds.cancelRefund({ refundReference: reference });
    const events = (await outboxOf(accountId)).filter((e) => e.event_type.startsWith('refund'));
    expect(events.map((e) => [e.event_type, e.payload.refundId])).toEqual([
      ['refund', reference.toLowerCase()],
      ['refund_cancelled', reference.toLowerCase()],
    ]);
    const { rows } = await pool.query<{ n: bigint }>('SELECT count(*) AS n FROM bank.ledger_entries WHERE refund_id = $1', [reference.toLowerCase()]);
    expect(rows[0]!.n).toBe(4n);
    // Any other reference still gets an id of its own.
    const other = await refunds.refundDeposit(refundOf(topUpId, 100n, { refundReference: `ref-${randomUUID()}` }));
    expect(other.refund.id).not.toBe(other.refund.refundReference);
  });

  it('debits the wallet to the settlement account with two refund entries and a refund event; the same request replays', async () => {
    const { accountId, topUpId } = await toppedUp(5_000n);
    const settlementBefore = await balanceOf(pool, SETTLEMENT);
    const request = refundOf(topUpId, 1_250n);
    const first = await refunds.refundDeposit(request);
    expect(first.replayed).toBe(false);
    expect(first.refund).toMatchObject({ topUpId, accountId, amountMinor: 1_250n, status: 'debited', initiatedBy: DEPOSITOR });
    expect(await balanceOf(pool, accountId)).toBe(3_750n);
    expect(await balanceOf(pool, SETTLEMENT)).toBe(settlementBefore + 1_250n);
    const { rows: entries } = await pool.query<{ account_id: string; amount_minor: bigint; entry_type: string }>(
      'SELECT account_id, amount_minor, entry_type FROM bank.ledger_entries WHERE refund_id = $1 ORDER BY id',
      [first.refund.id],
    );
    expect(entries).toEqual([
      { account_id: accountId, amount_minor: -1_250n, entry_type: 'refund' },
      { account_id: SETTLEMENT, amount_minor: 1_250n, entry_type: 'refund' },
    ]);
    const events = (await outboxOf(accountId)).filter((e) => e.event_type === 'refund');
    expect(events).toHaveLength(1);
    expect(events[0]!.payload).toMatchObject({
      eventType: 'refund',
      schemaVersion: 1,
      accountId,
      refundId: first.refund.id,
      topUpId,
      depositId: first.refund.depositId,
      amount: '12.50',
      currency: 'USD',
      initiatedBy: DEPOSITOR,
      occurredAt: first.refund.createdAt.toISOString(),
    });

    const again = await refunds.refundDeposit(request);
    expect(again).toEqual({ refund: first.refund, replayed: true });
    expect(await balanceOf(pool, accountId)).toBe(3_750n);
    expect(await rejection(refunds.refundDeposit({ ...request, amount: { amountMinor: 1n, currencyCode: 'USD' } }))).toBeInstanceOf(IdempotencyKeyReusedError);
    expect(await ledgerInvariants(pool)).toEqual(HEALTHY_LEDGER);
  });

  it('refunds in parts up to the deposit, then refuses more with REFUND_EXCEEDS_DEPOSIT and what remains, bound to the reference', async () => {
    const { accountId, topUpId } = await toppedUp(1_000n, 10_000n);
    await refunds.refundDeposit(refundOf(topUpId, 600n));
    const tooMuch = refundOf(topUpId, 500n);
    const error = (await rejection(refunds.refundDeposit(tooMuch))) as BankError;
    expect(error).toBeInstanceOf(RefundExceedsDepositError);
    expect(error.metadata).toMatchObject({ remaining: '4.00' });
    // Bound: the same reference replays the refusal even once it would fit, and GetRefund says VOIDED.
    await refunds.refundDeposit(refundOf(topUpId, 300n));
    const replay = (await rejection(refunds.refundDeposit(tooMuch))) as BankError;
    expect(replay).toBeInstanceOf(RefundExceedsDepositError);
    expect(replay.metadata).toMatchObject({ remaining: '4.00', replayed: 'true' });
    expect(await refunds.getRefund({ refundReference: tooMuch.refundReference, voidIfAbsent: false })).toEqual({ status: 'voided' });
    await refunds.refundDeposit(refundOf(topUpId, 100n));
    expect(await rejection(refunds.refundDeposit(refundOf(topUpId, 1n)))).toBeInstanceOf(RefundExceedsDepositError);
    expect(await balanceOf(pool, accountId)).toBe(10_000n);
    expect(await ledgerInvariants(pool)).toEqual(HEALTHY_LEDGER);
  });

  it('refuses a refund the wallet cannot cover (money spent since the top-up) with INSUFFICIENT_FUNDS, changing nothing', async () => {
    const { accountId, topUpId } = await toppedUp(1_000n);
    await pool.query('UPDATE bank.accounts SET pending_out_minor = 700 WHERE id = $1', [accountId]);
    try {
      const request = refundOf(topUpId, 400n);
      expect(await rejection(refunds.refundDeposit(request))).toBeInstanceOf(InsufficientFundsError);
      expect(await balanceOf(pool, accountId)).toBe(1_000n);
      expect((await rejection(refunds.refundDeposit(request))) as BankError).toMatchObject({ metadata: { replayed: 'true' } });
      expect((await refunds.refundDeposit(refundOf(topUpId, 300n))).refund.amountMinor).toBe(300n);
    } finally {
      await pool.query('UPDATE bank.accounts SET pending_out_minor = 0 WHERE id = $1', [accountId]);
    }
    expect(await ledgerInvariants(pool)).toEqual(HEALTHY_LEDGER);
  });

  it('answers DEPOSIT_NOT_FOUND for a top-up that never credited anything, and INVALID_ARGUMENT for bad fields', async () => {
    expect(await rejection(refunds.refundDeposit(refundOf(randomUUID(), 100n)))).toBeInstanceOf(DepositNotFoundError);
    const { topUpId } = await toppedUp(100n);
    for (const bad of [
      refundOf('not-a-uuid', 1n),
      refundOf(topUpId, 1n, { refundReference: '' }),
      refundOf(topUpId, 1n, { initiatedBy: '' }),
      refundOf(topUpId, 1n, { amount: undefined }),
      refundOf(topUpId, 1n, { refundReference: 'x\u0000' }),
    ]) {
      expect(await rejection(refunds.refundDeposit(bad))).toBeInstanceOf(InvalidArgumentError);
    }
    expect(await rejection(refunds.refundDeposit(refundOf(topUpId, 0n)))).toMatchObject({ reason: 'INVALID_AMOUNT' });
  });

  it('never refunds more than the deposit when many refunds of it race', async () => {
    const { accountId, topUpId } = await toppedUp(1_000n, 5_000n);
    const results = await Promise.allSettled(Array.from({ length: 10 }, () => refunds.refundDeposit(refundOf(topUpId, 300n))));
    const applied = results.filter((r) => r.status === 'fulfilled');
    expect(applied).toHaveLength(3);
    for (const r of results) if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(RefundExceedsDepositError);
    expect(await balanceOf(pool, accountId)).toBe(5_100n);
    expect(await ledgerInvariants(pool)).toEqual(HEALTHY_LEDGER);
  });
});

describe('GetRefund', () => {
  it('finds an applied refund; with void_if_absent voids an unknown reference so RefundDeposit with it can never apply', async () => {
    const { accountId, topUpId } = await toppedUp(1_000n);
    const applied = await refunds.refundDeposit(refundOf(topUpId, 100n));
    expect(await refunds.getRefund({ refundReference: applied.refund.refundReference, voidIfAbsent: true })).toEqual({ status: 'applied', refund: applied.refund });
    const request = refundOf(topUpId, 100n);
    expect(await refunds.getRefund({ refundReference: request.refundReference, voidIfAbsent: false })).toEqual({ status: 'not_found' });
    expect(await refunds.getRefund({ refundReference: request.refundReference, voidIfAbsent: true })).toEqual({ status: 'voided' });
    expect(await rejection(refunds.refundDeposit(request))).toBeInstanceOf(RefundReferenceVoidedError);
    expect(await balanceOf(pool, accountId)).toBe(900n);
  });

  it('a lookup racing the refund either sees it applied or voids it first, never both', async () => {
    const { accountId, topUpId } = await toppedUp(1_000n);
    const request = refundOf(topUpId, 100n);
    const [refund, lookup] = await Promise.allSettled([refunds.refundDeposit(request), refunds.getRefund({ refundReference: request.refundReference, voidIfAbsent: true })]);
    if (lookup.status !== 'fulfilled') throw lookup.reason;
    if (lookup.value.status === 'voided') {
      expect(refund.status === 'rejected' && refund.reason instanceof RefundReferenceVoidedError).toBe(true);
      expect(await balanceOf(pool, accountId)).toBe(1_000n);
    } else {
      expect(lookup.value.status).toBe('applied');
      expect(await balanceOf(pool, accountId)).toBe(900n);
    }
  });
});

describe('CancelRefund', () => {
  it('credits a debited refund back once (refund_cancelled event), answers the same again, and frees the amount for another refund', async () => {
    const { accountId, topUpId } = await toppedUp(1_000n);
    const debited = await refunds.refundDeposit(refundOf(topUpId, 1_000n));
    expect(await balanceOf(pool, accountId)).toBe(0n);
    const cancelled = await refunds.cancelRefund({ refundReference: debited.refund.refundReference });
    expect(cancelled.replayed).toBe(false);
    expect(cancelled.refund).toMatchObject({ id: debited.refund.id, status: 'cancelled' });
    expect(await balanceOf(pool, accountId)).toBe(1_000n);
    const again = await refunds.cancelRefund({ refundReference: debited.refund.refundReference });
    expect(again).toMatchObject({ replayed: true, refund: { status: 'cancelled' } });
    expect(await balanceOf(pool, accountId)).toBe(1_000n);
    const events = await outboxOf(accountId);
    expect(events.map((e) => e.event_type)).toEqual(['topup', 'refund', 'refund_cancelled']);
    expect(events[2]!.payload).toMatchObject({ eventType: 'refund_cancelled', refundId: debited.refund.id, amount: '10.00', topUpId });
    // The replayed RefundDeposit answers the refund as it is now (cancelled).
    expect((await refunds.getRefund({ refundReference: debited.refund.refundReference, voidIfAbsent: false })).status).toBe('applied');
    expect((await refunds.refundDeposit(refundOf(topUpId, 1_000n))).refund.status).toBe('debited');
    expect(await ledgerInvariants(pool)).toEqual(HEALTHY_LEDGER);
  });

  it('concurrent cancels of one refund credit it back exactly once', async () => {
    const { accountId, topUpId } = await toppedUp(800n);
    const debited = await refunds.refundDeposit(refundOf(topUpId, 800n));
    const results = await Promise.all(Array.from({ length: 5 }, () => refunds.cancelRefund({ refundReference: debited.refund.refundReference })));
    expect(results.filter((r) => !r.replayed)).toHaveLength(1);
    expect(await balanceOf(pool, accountId)).toBe(800n);
    expect(await ledgerInvariants(pool)).toEqual(HEALTHY_LEDGER);
  });

  it('refuses to cancel a reference with no refund (REFUND_NOT_CANCELLABLE)', async () => {
    expect(await rejection(refunds.cancelRefund({ refundReference: randomUUID() }))).toBeInstanceOf(RefundNotCancellableError);
  });
});
