import { describe, expect, it } from 'vitest';
import {
  AccountNotFoundError,
  CurrencyMismatchError,
  InsufficientFundsError,
  LimitExceededError,
  SameAccountError,
} from '../../src/domain/errors.js';
import {
  accountUpdates,
  applyPostings,
  decideDeposit,
  decideTransfer,
  InvariantViolation,
  transferEvents,
  type AccountState,
  type TransferPlan,
} from '../../src/domain/ledger.js';
import { validateDepositRequest, validateTransferRequest } from '../../src/domain/requests.js';
import { eventValidators } from '../support/helpers.js';
import { accountState } from '../support/account-state.js';

const A = '00000000-0000-0000-0000-00000000000a';
const B = '00000000-0000-0000-0000-00000000000b';
const C = '00000000-0000-0000-0000-00000000000c';
const E = '00000000-0000-0000-0000-00000000000e';
const S = '00000000-0000-0000-0000-000000000001';
/** A system account validation does not know by id: the decision itself must refuse it. */
const SYSTEM = '00000000-0000-0000-0000-0000000000f5';
const createdAt = new Date('2026-01-02T03:04:05.678Z');
const limits = { maxAmountMinor: 100_000_000n };

function states(...accounts: Array<Partial<AccountState> & { id: string }>): Map<string, AccountState> {
  return new Map(
    accounts.map((a) => [a.id, accountState(a)]),
  );
}

function transfer(sender: string, recipient: string, amountMinor: bigint, description = '') {
  return validateTransferRequest(
    { senderAccountId: sender, recipientAccountId: recipient, amount: { amountMinor, currencyCode: 'USD' }, idempotencyKey: 'k', description },
    limits,
    'user-1',
  );
}

const identity = (n = 1) => ({
  transferId: `10000000-0000-4000-8000-00000000000${n}`,
  createdAt,
  eventIds: [`20000000-0000-4000-8000-00000000000${n}`, `30000000-0000-4000-8000-00000000000${n}`] as [string, string],
});

function errorOf(decision: ReturnType<typeof decideTransfer>) {
  if (decision.ok) throw new Error('expected a rejection');
  return decision.error;
}

describe('decideTransfer', () => {
  it('debits the sender and credits the recipient by the same amount', () => {
    const decision = decideTransfer(transfer(A, B, 1050n), identity(), states({ id: A, balanceMinor: 5000n }, { id: B, balanceMinor: 7n }));
    expect(decision.ok).toBe(true);
    const plan = (decision as { plan: TransferPlan }).plan;
    expect(plan.postings).toEqual([
      { accountId: A, amountMinor: -1050n, balanceAfterMinor: 3950n },
      { accountId: B, amountMinor: 1050n, balanceAfterMinor: 1057n },
    ]);
    expect(plan.transfer).toMatchObject({ id: identity().transferId, senderAccountId: A, recipientAccountId: B, amountMinor: 1050n, status: 'completed' });
  });

  it('allows spending the whole balance, not a cent more', () => {
    expect(decideTransfer(transfer(A, B, 5000n), identity(), states({ id: A, balanceMinor: 5000n }, { id: B })).ok).toBe(true);
    expect(errorOf(decideTransfer(transfer(A, B, 5001n), identity(), states({ id: A, balanceMinor: 5000n }, { id: B })))).toBeInstanceOf(
      InsufficientFundsError,
    );
  });

  it('names which account is missing', () => {
    const missingSender = errorOf(decideTransfer(transfer(A, B, 1n), identity(), states({ id: B })));
    expect(missingSender).toBeInstanceOf(AccountNotFoundError);
    expect((missingSender as AccountNotFoundError).metadata).toEqual({ accountId: A, role: 'sender' });
    const missingRecipient = errorOf(decideTransfer(transfer(A, B, 1n), identity(), states({ id: A, balanceMinor: 10n })));
    expect((missingRecipient as AccountNotFoundError).metadata).toEqual({ accountId: B, role: 'recipient' });
  });

  it('treats any system account as not addressable by customers (validation refuses the known ones earlier)', () => {
    const error = errorOf(decideTransfer(transfer(SYSTEM, B, 1n), identity(), states({ id: SYSTEM, kind: 'settlement', balanceMinor: 10_000n }, { id: B })));
    expect(error).toBeInstanceOf(AccountNotFoundError);
    const toSettlement = errorOf(decideTransfer(transfer(A, SYSTEM, 1n), identity(), states({ id: A, balanceMinor: 10n }, { id: SYSTEM, kind: 'settlement' })));
    expect((toSettlement as AccountNotFoundError).metadata.role).toBe('recipient');
  });

  it('rejects a currency that differs from either account', () => {
    const eur = states({ id: A, balanceMinor: 100n }, { id: E, currency: 'EUR' });
    expect(errorOf(decideTransfer(transfer(A, E, 1n), identity(), eur))).toBeInstanceOf(CurrencyMismatchError);
    const eurSender = states({ id: E, currency: 'EUR', balanceMinor: 100n }, { id: B });
    expect(errorOf(decideTransfer(transfer(E, B, 1n), identity(), eurSender))).toBeInstanceOf(CurrencyMismatchError);
  });

  it('checks existence before currency and currency before funds', () => {
    const poorEur = states({ id: A, currency: 'EUR', balanceMinor: 0n });
    expect(errorOf(decideTransfer(transfer(A, B, 5n), identity(), poorEur))).toBeInstanceOf(AccountNotFoundError);
    expect(errorOf(decideTransfer(transfer(A, B, 5n), identity(), states({ id: A, currency: 'EUR' }, { id: B })))).toBeInstanceOf(
      CurrencyMismatchError,
    );
  });

  it('rejects sender = recipient even if validation was bypassed', () => {
    const request = { ...transfer(A, B, 1n), recipientAccountId: A };
    expect(errorOf(decideTransfer(request, identity(), states({ id: A, balanceMinor: 10n })))).toBeInstanceOf(SameAccountError);
  });

  it('emits transfer_out for the sender and transfer_in for the recipient, valid against the JSON Schema', () => {
    const validate = eventValidators().transfer;
    const decision = decideTransfer(transfer(A, B, 1050n, 'dinner'), identity(), states({ id: A, balanceMinor: 5000n }, { id: B }));
    const events = (decision as { plan: TransferPlan }).plan.events;
    expect(events.map((e) => [e.eventType, e.accountId])).toEqual([
      ['transfer_out', A],
      ['transfer_in', B],
    ]);
    expect(events[0]!.payload).toEqual({
      eventId: identity().eventIds[0],
      eventType: 'transfer_out',
      schemaVersion: 1,
      occurredAt: '2026-01-02T03:04:05.678Z',
      accountId: A,
      counterpartyAccountId: B,
      transferId: identity().transferId,
      amount: '10.50',
      currency: 'USD',
      description: 'dinner',
      initiatedBy: 'user-1',
    });
    expect(events[1]!.payload).toMatchObject({ eventType: 'transfer_in', accountId: B, initiatedBy: 'user-1' });
    for (const event of events) expect(validate(event.payload), JSON.stringify(validate.errors)).toBe(true);
  });

  it('omits an empty description from the events', () => {
    const decision = decideTransfer(transfer(A, B, 5n), identity(), states({ id: A, balanceMinor: 5n }, { id: B }));
    expect((decision as { plan: TransferPlan }).plan.events[0]!.payload).not.toHaveProperty('description');
  });

  it('records who made the transfer and omits initiatedBy only for a transfer made before identity existed', () => {
    const decision = decideTransfer(transfer(A, B, 5n), identity(), states({ id: A, balanceMinor: 5n }, { id: B }));
    const plan = (decision as { plan: TransferPlan }).plan;
    expect(plan.transfer.initiatedBy).toBe('user-1');
    const legacy = transferEvents({ ...plan.transfer, initiatedBy: null }, identity().eventIds);
    expect(legacy[0]!.payload).not.toHaveProperty('initiatedBy');
  });
});

describe('chaining decisions over locked states (group commit)', () => {
  it('decides each transfer against the balance left by the previous ones', () => {
    const locked = states({ id: A, balanceMinor: 100n, version: 7n }, { id: B, version: 3n }, { id: C, version: 1n });
    const working = new Map(locked);
    const plans: TransferPlan[] = [];
    const outcomes: string[] = [];
    for (const [n, [to, amount]] of ([[B, 60n], [C, 60n], [C, 40n]] as const).entries()) {
      const decision = decideTransfer(transfer(A, to, amount), identity(n + 1), working);
      if (decision.ok) {
        applyPostings(working, decision.plan.postings, decision.plan.spends);
        plans.push(decision.plan);
        outcomes.push('ok');
      } else {
        outcomes.push(decision.error.reason);
      }
    }
    expect(outcomes).toEqual(['ok', 'INSUFFICIENT_FUNDS', 'ok']);
    const day = createdAt.toISOString().slice(0, 10);
    const month = `${day.slice(0, 7)}-01`;
    const unspent = { spentDay: null, spentDayMinor: 0n, spentMonth: null, spentMonthMinor: 0n };
    expect(accountUpdates(locked, plans)).toEqual([
      { id: A, balanceMinor: 0n, expectedVersion: 7n, spentDay: day, spentDayMinor: 100n, spentMonth: month, spentMonthMinor: 100n },
      { id: B, balanceMinor: 60n, expectedVersion: 3n, ...unspent },
      { id: C, balanceMinor: 40n, expectedVersion: 1n, ...unspent },
    ]);
    expect(plans[1]!.postings[0]!.balanceAfterMinor).toBe(0n);
  });

  it('carries the daily spend from one decision to the next: the second transfer over the limit is refused', () => {
    const locked = states({ id: A, balanceMinor: 1_000n, dailyLimitMinor: 100n }, { id: B }, { id: C });
    const working = new Map(locked);
    const first = decideTransfer(transfer(A, B, 60n), identity(1), working);
    if (!first.ok) throw first.error;
    applyPostings(working, first.plan.postings, first.plan.spends);
    const second = errorOf(decideTransfer(transfer(A, C, 41n), identity(2), working));
    expect(second).toBeInstanceOf(LimitExceededError);
    expect(second.metadata).toMatchObject({ accountId: A, limit: 'daily', remaining: '0.40' });
    expect(decideTransfer(transfer(A, C, 40n), identity(3), working).ok).toBe(true);
  });

  it('lets a sender with an overdraft go negative down to it, and a credit to an account beyond it is no invariant breach', () => {
    const working = states({ id: A, balanceMinor: 10n, overdraftLimitMinor: 50n }, { id: B, balanceMinor: -100n, overdraftLimitMinor: 50n });
    const decision = decideTransfer(transfer(A, B, 60n), identity(), working);
    if (!decision.ok) throw decision.error;
    applyPostings(working, decision.plan.postings, decision.plan.spends);
    expect(working.get(A)!.balanceMinor).toBe(-50n);
    expect(working.get(B)!.balanceMinor).toBe(-40n);
    expect(errorOf(decideTransfer(transfer(A, B, 1n), identity(2), working)).metadata).toMatchObject({ limit: 'overdraft', remaining: '0.00' });
  });

  it('refuses postings that would drive a customer negative or skip a step', () => {
    const working = states({ id: A, balanceMinor: 10n }, { id: B });
    expect(() => applyPostings(working, [{ accountId: A, amountMinor: -11n, balanceAfterMinor: -1n }])).toThrow(InvariantViolation);
    expect(() => applyPostings(working, [{ accountId: A, amountMinor: -1n, balanceAfterMinor: 5n }])).toThrow(InvariantViolation);
    expect(() => applyPostings(working, [{ accountId: C, amountMinor: 1n, balanceAfterMinor: 1n }])).toThrow(InvariantViolation);
  });
});

describe('decideDeposit', () => {
  const request = validateDepositRequest(
    {
      accountId: A,
      amount: { amountMinor: 2500n, currencyCode: 'USD' },
      depositReference: 'ref-1',
      topUpId: '40000000-0000-4000-8000-000000000001',
      card: { cardLast4: '4242', cardBrand: 'visa' },
      initiatedBy: 'user-1',
    },
  );
  const ids = { depositId: '50000000-0000-4000-8000-000000000001', createdAt, eventId: '60000000-0000-4000-8000-000000000001' };

  it('credits the customer and debits the settlement account, which may go negative', () => {
    const decision = decideDeposit(request, ids, states({ id: A, balanceMinor: 1n }, { id: S, kind: 'settlement', balanceMinor: -1n }), S);
    if (!decision.ok) throw decision.error;
    expect(decision.plan.postings).toEqual([
      { accountId: S, amountMinor: -2500n, balanceAfterMinor: -2501n },
      { accountId: A, amountMinor: 2500n, balanceAfterMinor: 2501n },
    ]);
  });

  it('emits one topup event valid against the JSON Schema', () => {
    const validate = eventValidators().topup;
    const decision = decideDeposit(request, ids, states({ id: A }, { id: S, kind: 'settlement' }), S);
    if (!decision.ok) throw decision.error;
    expect(decision.plan.events).toHaveLength(1);
    expect(decision.plan.events[0]).toMatchObject({ accountId: A, eventType: 'topup' });
    expect(decision.plan.events[0]!.payload).toMatchObject({
      topUpId: request.topUpId,
      depositId: ids.depositId,
      amount: '25.00',
      cardLast4: '4242',
      cardBrand: 'visa',
      initiatedBy: 'user-1',
    });
    expect(validate(decision.plan.events[0]!.payload), JSON.stringify(validate.errors)).toBe(true);
  });

  it('rejects an unknown or non-customer target account', () => {
    const unknown = decideDeposit(request, ids, states({ id: S, kind: 'settlement' }), S);
    expect(unknown.ok || unknown.error).toBeInstanceOf(AccountNotFoundError);
    const intoSettlement = decideDeposit({ ...request, accountId: S }, ids, states({ id: S, kind: 'settlement' }), S);
    expect(intoSettlement.ok || intoSettlement.error).toBeInstanceOf(AccountNotFoundError);
  });

  it('rejects a deposit in another currency', () => {
    const decision = decideDeposit(request, ids, states({ id: A, currency: 'EUR' }, { id: S, kind: 'settlement' }), S);
    expect(decision.ok || decision.error).toBeInstanceOf(CurrencyMismatchError);
  });

  it('treats a missing settlement account as a bug, not a business outcome', () => {
    expect(() => decideDeposit(request, ids, states({ id: A }), S)).toThrow(InvariantViolation);
  });
});
