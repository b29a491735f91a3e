// Holds on a real PostgreSQL (ADR 0015): the amount leaves available at once,
// capture posts a transfer and releases the rest, void and expiry release all,
// and exactly one of capture, void and expiry wins even when they race (the
// sweep included, two sweepers at once). The pending invariant holds after
// every test: sum(pending_out) = sum(pending_in) = sum of pending holds.
import { randomUUID } from 'node:crypto';
import type { TestDatabase } from '@wallet/testkit';
import type pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { HoldExpirySweeper } from '../../src/app/hold-expiry.js';
import { HoldUseCase } from '../../src/app/holds.js';
import type { BankOperations } from '../../src/app/operations.js';
import {
  AccountNotFoundError,
  CaptureExceedsHoldError,
  HoldNotFoundError,
  HoldNotPendingError,
  IdempotencyKeyReusedError,
  InsufficientFundsError,
  InvalidArgumentError,
  RoleForbiddenError,
} from '../../src/domain/errors.js';
import type { CreateHoldInput } from '../../src/domain/holds.js';
import { ADMIN, principal } from '../support/callers.js';
import { createMigratedDatabase, HEALTHY_LEDGER, ledgerInvariants, rejection, silentLogger, testOperations, testPool } from '../support/helpers.js';

let db: TestDatabase;
let pool: pg.Pool;
let ops: BankOperations;
let holds: HoldUseCase;
/** The bank's clock: tests move it forward to make holds due. */
let nowMs = Date.now();

beforeAll(async () => {
  db = await createMigratedDatabase('bank_holds');
  pool = testPool(db.url);
  ops = testOperations(pool, { clock: () => new Date(nowMs) });
  holds = new HoldUseCase(ops.context);
});

afterAll(async () => {
  await ops?.close();
  await pool?.end();
  await db?.drop();
});

afterEach(async () => {
  expect(await pendingInvariant()).toEqual({ pendingOut: 'ok', pendingIn: 'ok' });
  expect(await ledgerInvariants(pool)).toEqual(HEALTHY_LEDGER);
});

async function pendingInvariant(): Promise<{ pendingOut: string; pendingIn: string }> {
  const { rows } = await pool.query<{ out_ok: boolean; in_ok: boolean }>(`
    SELECT (SELECT coalesce(sum(pending_out_minor), 0) FROM bank.accounts) = (SELECT coalesce(sum(amount_minor), 0) FROM bank.holds WHERE status = 'pending') AS out_ok,
           (SELECT coalesce(sum(pending_in_minor), 0) FROM bank.accounts) = (SELECT coalesce(sum(amount_minor), 0) FROM bank.holds WHERE status = 'pending') AS in_ok`);
  return { pendingOut: rows[0]!.out_ok ? 'ok' : 'broken', pendingIn: rows[0]!.in_ok ? 'ok' : 'broken' };
}

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

async function account(id: string) {
  const { rows } = await pool.query<{ balance_minor: bigint; pending_out_minor: bigint; pending_in_minor: bigint }>(
    'SELECT balance_minor, pending_out_minor, pending_in_minor FROM bank.accounts WHERE id = $1',
    [id],
  );
  return { posted: rows[0]!.balance_minor, pendingOut: rows[0]!.pending_out_minor, pendingIn: rows[0]!.pending_in_minor };
}

async function events(holdId: string): Promise<Array<{ type: string; direction: string; amount: string }>> {
  const { rows } = await pool.query<{ event_type: string; payload: { direction: string; amount: string } }>(
    `SELECT event_type, payload FROM bank.outbox WHERE payload->>'holdId' = $1 ORDER BY id`,
    [holdId],
  );
  return rows.map((r) => ({ type: r.event_type, direction: r.payload.direction, amount: r.payload.amount }));
}

const holdInput = (sender: string, recipient: string, amountMinor: bigint, extra: Partial<CreateHoldInput> = {}): CreateHoldInput => ({
  senderAccountId: sender,
  recipientAccountId: recipient,
  amount: { amountMinor, currencyCode: 'USD' },
  idempotencyKey: randomUUID(),
  description: 'hotel',
  expiresAt: undefined,
  ...extra,
});

describe('CreateHold', () => {
  it('takes the amount out of the sender\'s available balance at once, posts nothing, and emits hold_created for both sides', async () => {
    const payer = await customer(1_000n);
    const payee = await customer(0n);
    const { hold, replayed } = await holds.createHold(holdInput(payer.accountId, payee.accountId, 300n), payer.caller);
    expect(replayed).toBe(false);
    expect(hold.status).toBe('pending');
    expect(hold.expiresAt.getTime() - hold.createdAt.getTime()).toBe(7 * 24 * 3_600_000);
    expect(await account(payer.accountId)).toEqual({ posted: 1_000n, pendingOut: 300n, pendingIn: 0n });
    expect(await account(payee.accountId)).toEqual({ posted: 0n, pendingOut: 0n, pendingIn: 300n });
    expect(await events(hold.id)).toEqual([
      { type: 'hold_created', direction: 'out', amount: '3.00' },
      { type: 'hold_created', direction: 'in', amount: '3.00' },
    ]);
  });

  it('replays the same key and request, and refuses the key with another request', async () => {
    const payer = await customer(1_000n);
    const payee = await customer(0n);
    const input = holdInput(payer.accountId, payee.accountId, 100n);
    const first = await holds.createHold(input, payer.caller);
    const again = await holds.createHold(input, payer.caller);
    expect(again).toEqual({ hold: first.hold, replayed: true });
    expect(await rejection(holds.createHold({ ...input, amount: { amountMinor: 101n, currencyCode: 'USD' } }, payer.caller))).toBeInstanceOf(IdempotencyKeyReusedError);
    expect(await account(payer.accountId)).toMatchObject({ pendingOut: 100n });
  });

  it('counts earlier holds: a hold beyond the available balance is INSUFFICIENT_FUNDS, bound to its key', async () => {
    const payer = await customer(500n);
    const payee = await customer(0n);
    await holds.createHold(holdInput(payer.accountId, payee.accountId, 400n), payer.caller);
    const input = holdInput(payer.accountId, payee.accountId, 200n);
    expect(await rejection(holds.createHold(input, payer.caller))).toBeInstanceOf(InsufficientFundsError);
    // A transfer cannot spend the held money either.
    const transfer = ops.transferMoney(
      { senderAccountId: payer.accountId, recipientAccountId: payee.accountId, amount: { amountMinor: 200n, currencyCode: 'USD' }, idempotencyKey: randomUUID(), description: '' },
      payer.caller,
    );
    expect(await rejection(transfer)).toBeInstanceOf(InsufficientFundsError);
    // Bound: the same key replays the failure even after the money is back.
    await ops.depositMoney({
      accountId: payer.accountId,
      amount: { amountMinor: 1_000n, currencyCode: 'USD' },
      depositReference: randomUUID(),
      topUpId: randomUUID(),
      card: { cardLast4: '4242', cardBrand: 'visa' },
      initiatedBy: payer.caller.subject,
    });
    const replayed = await rejection(holds.createHold(input, payer.caller));
    expect(replayed).toBeInstanceOf(InsufficientFundsError);
    expect((replayed as InsufficientFundsError).metadata.replayed).toBe('true');
  });

  it('refuses an expiry in the past or beyond the maximum, and a stranger\'s account as not found', async () => {
    const payer = await customer(500n);
    const payee = await customer(0n);
    const past = holdInput(payer.accountId, payee.accountId, 1n, { expiresAt: new Date(nowMs - 1) });
    expect(await rejection(holds.createHold(past, payer.caller))).toBeInstanceOf(InvalidArgumentError);
    const far = holdInput(payer.accountId, payee.accountId, 1n, { expiresAt: new Date(nowMs + 31 * 24 * 3_600_000) });
    expect(await rejection(holds.createHold(far, payer.caller))).toBeInstanceOf(InvalidArgumentError);
    const stranger = principal(`user-${randomUUID()}`);
    expect(await rejection(holds.createHold(holdInput(payer.accountId, payee.accountId, 1n), stranger))).toBeInstanceOf(AccountNotFoundError);
    expect(await account(payer.accountId)).toMatchObject({ pendingOut: 0n });
  });

  it('reserves the capture key prefix: TransferMoney refuses keys starting with "hold:"', async () => {
    const payer = await customer(500n);
    const payee = await customer(0n);
    const transfer = ops.transferMoney(
      { senderAccountId: payer.accountId, recipientAccountId: payee.accountId, amount: { amountMinor: 1n, currencyCode: 'USD' }, idempotencyKey: `hold:${randomUUID()}`, description: '' },
      payer.caller,
    );
    expect(await rejection(transfer)).toBeInstanceOf(InvalidArgumentError);
  });
});

describe('CaptureHold and VoidHold', () => {
  it('captures all of a hold into a completed transfer, and answers a second capture with the same result', async () => {
    const payer = await customer(1_000n);
    const payee = await customer(0n);
    const { hold } = await holds.createHold(holdInput(payer.accountId, payee.accountId, 300n), payer.caller);
    const captured = await holds.captureHold({ holdId: hold.id, amount: undefined }, payer.caller);
    expect(captured.replayed).toBe(false);
    expect(captured.hold).toMatchObject({ status: 'captured', capturedMinor: 300n, transferId: captured.transfer.id });
    expect(captured.transfer).toMatchObject({ amountMinor: 300n, senderAccountId: payer.accountId, recipientAccountId: payee.accountId, idempotencyKey: `hold:${hold.id}` });
    expect(await account(payer.accountId)).toEqual({ posted: 700n, pendingOut: 0n, pendingIn: 0n });
    expect(await account(payee.accountId)).toEqual({ posted: 300n, pendingOut: 0n, pendingIn: 0n });
    const again = await holds.captureHold({ holdId: hold.id, amount: { amountMinor: 300n, currencyCode: 'USD' } }, payer.caller);
    expect(again).toEqual({ ...captured, replayed: true });
    const voided = await rejection(holds.voidHold({ holdId: hold.id }, payer.caller));
    expect(voided).toBeInstanceOf(HoldNotPendingError);
    expect((voided as HoldNotPendingError).metadata.status).toBe('captured');
    expect((await events(hold.id)).map((e) => e.type)).toEqual(['hold_created', 'hold_created', 'hold_captured', 'hold_captured']);
    const { rows } = await pool.query(`SELECT event_type FROM bank.outbox WHERE payload->>'transferId' = $1 AND event_type LIKE 'transfer_%'`, [captured.transfer.id]);
    expect(rows).toHaveLength(2);
  });

  it('captures part of a hold and releases the rest (available again at once)', async () => {
    const payer = await customer(1_000n);
    const payee = await customer(0n);
    const { hold } = await holds.createHold(holdInput(payer.accountId, payee.accountId, 400n), payer.caller);
    const { transfer } = await holds.captureHold({ holdId: hold.id, amount: { amountMinor: 150n, currencyCode: 'USD' } }, payer.caller);
    expect(transfer.amountMinor).toBe(150n);
    expect(await account(payer.accountId)).toEqual({ posted: 850n, pendingOut: 0n, pendingIn: 0n });
    expect(await account(payee.accountId)).toEqual({ posted: 150n, pendingOut: 0n, pendingIn: 0n });
    // The rest is spendable: 850 available.
    await holds.createHold(holdInput(payer.accountId, payee.accountId, 850n), payer.caller);
  });

  it('refuses a capture above the held amount (CAPTURE_EXCEEDS_HOLD) and changes nothing', async () => {
    const payer = await customer(1_000n);
    const payee = await customer(0n);
    const { hold } = await holds.createHold(holdInput(payer.accountId, payee.accountId, 100n), payer.caller);
    expect(await rejection(holds.captureHold({ holdId: hold.id, amount: { amountMinor: 101n, currencyCode: 'USD' } }, payer.caller))).toBeInstanceOf(CaptureExceedsHoldError);
    expect(await rejection(holds.captureHold({ holdId: hold.id, amount: { amountMinor: 50n, currencyCode: 'EUR' } }, payer.caller))).toBeInstanceOf(CaptureExceedsHoldError);
    expect(await holds.getHold({ holdId: hold.id }, payer.caller)).toMatchObject({ status: 'pending' });
    expect(await account(payer.accountId)).toEqual({ posted: 1_000n, pendingOut: 100n, pendingIn: 0n });
  });

  it('voids a hold: everything released; a second void replays, a capture after it is HOLD_NOT_PENDING', async () => {
    const payer = await customer(1_000n);
    const payee = await customer(0n);
    const { hold } = await holds.createHold(holdInput(payer.accountId, payee.accountId, 100n), payer.caller);
    const voided = await holds.voidHold({ holdId: hold.id }, payer.caller);
    expect(voided.hold).toMatchObject({ status: 'voided', capturedMinor: null });
    expect(await holds.voidHold({ holdId: hold.id }, payer.caller)).toEqual({ hold: voided.hold, replayed: true });
    const capture = await rejection(holds.captureHold({ holdId: hold.id, amount: undefined }, payer.caller));
    expect((capture as HoldNotPendingError).metadata.status).toBe('voided');
    expect(await account(payer.accountId)).toEqual({ posted: 1_000n, pendingOut: 0n, pendingIn: 0n });
    expect((await events(hold.id)).map((e) => `${e.type}/${e.direction}`)).toEqual(['hold_created/out', 'hold_created/in', 'hold_voided/out', 'hold_voided/in']);
  });

  it('lets only the sender\'s owner or admin finalize; the recipient and support see it, strangers do not', async () => {
    const payer = await customer(1_000n);
    const payee = await customer(0n);
    const support = principal(`support-${randomUUID()}`, ['support']);
    const stranger = principal(`user-${randomUUID()}`);
    const { hold } = await holds.createHold(holdInput(payer.accountId, payee.accountId, 100n), payer.caller);
    expect(await rejection(holds.captureHold({ holdId: hold.id, amount: undefined }, payee.caller))).toBeInstanceOf(RoleForbiddenError);
    expect(await rejection(holds.voidHold({ holdId: hold.id }, support))).toBeInstanceOf(RoleForbiddenError);
    expect(await rejection(holds.voidHold({ holdId: hold.id }, stranger))).toBeInstanceOf(HoldNotFoundError);
    expect(await rejection(holds.getHold({ holdId: hold.id }, stranger))).toBeInstanceOf(HoldNotFoundError);
    expect(await holds.getHold({ holdId: hold.id }, payee.caller)).toMatchObject({ id: hold.id });
    expect(await holds.getHold({ holdId: hold.id }, support)).toMatchObject({ id: hold.id });
    expect(await rejection(holds.getHold({ holdId: randomUUID() }, ADMIN))).toBeInstanceOf(HoldNotFoundError);
    expect((await holds.voidHold({ holdId: hold.id }, ADMIN)).hold.status).toBe('voided');
  });
});

describe('expiry', () => {
  it('a capture or void after the expiry loses to it: the hold is expired (released) and the call is HOLD_NOT_PENDING', async () => {
    const payer = await customer(1_000n);
    const payee = await customer(0n);
    const { hold } = await holds.createHold(holdInput(payer.accountId, payee.accountId, 100n, { expiresAt: new Date(nowMs + 60_000) }), payer.caller);
    nowMs += 60_001;
    const capture = await rejection(holds.captureHold({ holdId: hold.id, amount: undefined }, payer.caller));
    expect((capture as HoldNotPendingError).metadata.status).toBe('expired');
    expect(await holds.getHold({ holdId: hold.id }, payer.caller)).toMatchObject({ status: 'expired' });
    expect(await account(payer.accountId)).toEqual({ posted: 1_000n, pendingOut: 0n, pendingIn: 0n });
    expect((await events(hold.id)).map((e) => e.type)).toEqual(['hold_created', 'hold_created', 'hold_expired', 'hold_expired']);
  });

  it('two sweepers at once expire every due hold exactly once, and leave holds not yet due alone', async () => {
    const payer = await customer(100_000n);
    const payee = await customer(0n);
    const due = [];
    for (let i = 0; i < 30; i += 1) {
      due.push((await holds.createHold(holdInput(payer.accountId, payee.accountId, 10n, { expiresAt: new Date(nowMs + 1_000) }), payer.caller)).hold.id);
    }
    const later = (await holds.createHold(holdInput(payer.accountId, payee.accountId, 10n, { expiresAt: new Date(nowMs + 3_600_000) }), payer.caller)).hold;
    nowMs += 1_001;
    const sweeper = (n: number) => new HoldExpirySweeper(new HoldUseCase(ops.context), { intervalMs: 1_000, batchSizeMax: n, batchesPerTickMax: 100 }, silentLogger);
    const counts = await Promise.all([sweeper(4).sweep(), sweeper(7).sweep()]);
    expect(counts[0] + counts[1]).toBe(30);
    const { rows } = await pool.query<{ status: string; n: bigint }>('SELECT status, count(*) AS n FROM bank.holds WHERE id = ANY ($1::uuid[]) GROUP BY status', [due]);
    expect(rows).toEqual([{ status: 'expired', n: 30n }]);
    const { rows: expiredEvents } = await pool.query<{ n: bigint }>(`SELECT count(*) AS n FROM bank.outbox WHERE event_type = 'hold_expired' AND payload->>'holdId' = ANY ($1::text[])`, [due]);
    expect(expiredEvents[0]!.n).toBe(60n);
    expect(await holds.getHold({ holdId: later.id }, payer.caller)).toMatchObject({ status: 'pending' });
    expect(await account(payer.accountId)).toEqual({ posted: 100_000n, pendingOut: 10n, pendingIn: 0n });
  });
});

describe('races: exactly one of capture, void and expiry wins', () => {
  it('concurrent captures, voids and sweeps of one hold: one winner, losers see its state, money conserved', async () => {
    for (let round = 0; round < 5; round += 1) {
      const payer = await customer(1_000n);
      const payee = await customer(0n);
      const { hold } = await holds.createHold(holdInput(payer.accountId, payee.accountId, 200n, { expiresAt: new Date(nowMs + 5_000) }), payer.caller);
      // Rounds 3-4: due, so the sweep competes too (and a capture or void finding it due expires it).
      if (round >= 3) nowMs += 5_001;
      const calls = [
        ...Array.from({ length: 4 }, () => holds.captureHold({ holdId: hold.id, amount: { amountMinor: 120n, currencyCode: 'USD' } }, payer.caller)),
        ...Array.from({ length: 4 }, () => holds.voidHold({ holdId: hold.id }, payer.caller)),
        holds.expireDue(10),
        holds.expireDue(10),
      ];
      const settled = await Promise.allSettled(calls);
      const final = await holds.getHold({ holdId: hold.id }, payer.caller);
      expect(final.status).not.toBe('pending');
      for (const [i, result] of settled.slice(0, 8).entries()) {
        const action = i < 4 ? 'captured' : 'voided';
        if (result.status === 'fulfilled') {
          // Winners and replays of the same action see the final state.
          expect(final.status).toBe(action);
        } else {
          expect(result.reason).toBeInstanceOf(HoldNotPendingError);
          expect((result.reason as HoldNotPendingError).metadata.status).toBe(final.status);
        }
      }
      const { rows } = await pool.query<{ n: bigint }>('SELECT count(*) AS n FROM bank.transfers WHERE hold_id = $1', [hold.id]);
      expect(rows[0]!.n).toBe(final.status === 'captured' ? 1n : 0n);
      const finals = (await events(hold.id)).filter((e) => e.type !== 'hold_created');
      expect(finals).toHaveLength(2);
      const posted = final.status === 'captured' ? 120n : 0n;
      expect(await account(payer.accountId)).toEqual({ posted: 1_000n - posted, pendingOut: 0n, pendingIn: 0n });
      expect(await account(payee.accountId)).toEqual({ posted, pendingOut: 0n, pendingIn: 0n });
    }
  });
});
