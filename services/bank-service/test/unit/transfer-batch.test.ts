// Group commit, the pure part: a batch decided in arrival order over one set
// of locked states, each request judged and answered on its own.
import { describe, expect, it } from 'vitest';
import {
  AccountNotFoundError,
  IdempotencyKeyInFlightError,
  IdempotencyKeyReusedError,
  InsufficientFundsError,
  type BankError,
} from '../../src/domain/errors.js';
import type { AccountState, TransferIdentity, TransferRecord } from '../../src/domain/ledger.js';
import { accountState } from '../support/account-state.js';
import { validateTransferRequest } from '../../src/domain/requests.js';
import {
  decideTransferBatch,
  duplicateOutcome,
  idempotencyScope,
  type TransferBatchItem,
  type TransferOutcome,
} from '../../src/domain/transfer-batch.js';

const A = '00000000-0000-0000-0000-00000000000a';
const B = '00000000-0000-0000-0000-00000000000b';
const C = '00000000-0000-0000-0000-00000000000c';
const MISSING = '00000000-0000-0000-0000-0000000000ff';
const createdAt = new Date('2026-01-02T03:04:05.678Z');

function states(...accounts: Array<[string, bigint]>): Map<string, AccountState> {
  return new Map(accounts.map(([id, balanceMinor]) => [id, accountState({ id, balanceMinor, version: 3n })]));
}

function request(sender: string, recipient: string, amountMinor: bigint, key: string, description = '') {
  return validateTransferRequest(
    { senderAccountId: sender, recipientAccountId: recipient, amount: { amountMinor, currencyCode: 'USD' }, idempotencyKey: key, description },
    { maxAmountMinor: 100_000_000n },
    'user-1',
  );
}

function item(sender: string, recipient: string, amountMinor: bigint, key: string, extra: Partial<TransferBatchItem> = {}): TransferBatchItem {
  return { request: request(sender, recipient, amountMinor, key), keyLocked: true, existing: undefined, ...extra };
}

function identities(): () => TransferIdentity {
  let n = 0;
  return () => {
    n += 1;
    const hex = n.toString(16).padStart(12, '0');
    return { transferId: `10000000-0000-4000-8000-${hex}`, createdAt, eventIds: [`20000000-0000-4000-8000-${hex}`, `30000000-0000-4000-8000-${hex}`] };
  };
}

function summary(outcomes: TransferOutcome[]): string[] {
  return outcomes.map((o) => (o.ok ? (o.replayed ? `replayed ${o.transfer.id}` : `ok ${o.transfer.amountMinor}`) : o.error.reason));
}

function stored(req: ReturnType<typeof request>, id = '40000000-0000-4000-8000-000000000001'): TransferRecord {
  return { id, ...req, status: 'completed', createdAt: new Date('2025-01-01T00:00:00Z') };
}

describe('decideTransferBatch', () => {
  it('decides in arrival order over shared balances: only the requests a sender can no longer afford fail', () => {
    const locked = states([A, 1_000n], [B, 1_000n], [C, 0n]);
    const decision = decideTransferBatch(
      [item(A, B, 600n, 'k1'), item(A, C, 600n, 'k2'), item(B, C, 1_500n, 'k3'), item(A, C, 400n, 'k4'), item(A, C, 1n, 'k5')],
      locked,
      identities(),
    );
    expect(summary(decision.outcomes)).toEqual(['ok 600', 'INSUFFICIENT_FUNDS', 'ok 1500', 'ok 400', 'INSUFFICIENT_FUNDS']);
    expect((decision.outcomes[1] as { error: BankError }).error).toBeInstanceOf(InsufficientFundsError);
    expect(decision.plans.map((p) => p.transfer.idempotencyKey)).toEqual(['k1', 'k3', 'k4']);
    // One update per touched account, from the versions read under lock.
    expect(decision.updates.map(({ id, balanceMinor, expectedVersion }) => ({ id, balanceMinor, expectedVersion }))).toEqual([
      { id: A, balanceMinor: 0n, expectedVersion: 3n },
      { id: B, balanceMinor: 100n, expectedVersion: 3n },
      { id: C, balanceMinor: 1_900n, expectedVersion: 3n },
    ]);
    // Postings chain: each balance-after continues from the previous plan.
    expect(decision.plans.flatMap((p) => p.postings.filter((x) => x.accountId === A).map((x) => x.balanceAfterMinor))).toEqual([400n, 0n]);
    // The locked states themselves are not modified.
    expect(locked.get(A)!.balanceMinor).toBe(1_000n);
  });

  it('carries the spend across the batch: the transfer that breaks the daily limit fails, is bound to its key, and the counter is written once', () => {
    const locked = new Map([
      [A, accountState({ id: A, balanceMinor: 10_000n, dailyLimitMinor: 1_000n, version: 3n })],
      [B, accountState({ id: B, version: 3n })],
    ]);
    const decision = decideTransferBatch([item(A, B, 600n, 'k1'), item(A, B, 600n, 'k2'), item(A, B, 400n, 'k3')], locked, identities());
    expect(summary(decision.outcomes)).toEqual(['ok 600', 'LIMIT_EXCEEDED', 'ok 400']);
    expect((decision.outcomes[1] as { error: BankError }).error.metadata).toMatchObject({ limit: 'daily', remaining: '4.00' });
    expect(decision.failures).toEqual([
      { senderAccountId: A, idempotencyKey: 'k2', requestHash: expect.any(String), reason: 'LIMIT_EXCEEDED', metadata: { accountId: A, limit: 'daily', remaining: '4.00' } },
    ]);
    expect(decision.updates.find((u) => u.id === A)).toMatchObject({ balanceMinor: 9_000n, spentDay: '2026-01-02', spentDayMinor: 1_000n, spentMonth: '2026-01-01', spentMonthMinor: 1_000n });
  });

  it('answers stored transfers from the lookup: the same request replays, another one is REUSED', () => {
    const original = request(A, B, 100n, 'k1');
    const existing = stored(original);
    const decision = decideTransferBatch(
      [
        { request: original, keyLocked: true, existing },
        { request: request(A, B, 101n, 'k2'), keyLocked: true, existing: stored(request(A, B, 100n, 'k2')) },
        item(A, B, 50n, 'k3'),
      ],
      states([A, 100n], [B, 0n]),
      identities(),
    );
    expect(summary(decision.outcomes)).toEqual([`replayed ${existing.id}`, 'IDEMPOTENCY_KEY_REUSED', 'ok 50']);
    expect(decision.plans).toHaveLength(1);
  });

  it('answers IN_FLIGHT for a key locked elsewhere, without touching the others', () => {
    const decision = decideTransferBatch([item(A, B, 10n, 'k1', { keyLocked: false }), item(A, B, 10n, 'k2')], states([A, 10n], [B, 0n]), identities());
    expect(summary(decision.outcomes)).toEqual(['IDEMPOTENCY_KEY_IN_FLIGHT', 'ok 10']);
  });

  it('executes the same (sender, key) once even if it appears twice in a batch', () => {
    const decision = decideTransferBatch(
      [item(A, B, 10n, 'dup'), item(A, B, 10n, 'dup'), item(A, B, 11n, 'dup'), item(B, C, 5n, 'dup')],
      states([A, 100n], [B, 0n], [C, 0n]),
      identities(),
    );
    // A different sender has its own key space.
    expect(summary(decision.outcomes)).toEqual(['ok 10', 'replayed 10000000-0000-4000-8000-000000000001', 'IDEMPOTENCY_KEY_REUSED', 'ok 5']);
    expect(decision.plans).toHaveLength(2);
  });

  it('rejects unknown accounts per request, writes no transfer, and binds each business failure to its key', () => {
    const decision = decideTransferBatch([item(A, MISSING, 10n, 'k1'), item(A, B, 1_000n, 'k2')], states([A, 10n], [B, 0n]), identities());
    expect(summary(decision.outcomes)).toEqual(['ACCOUNT_NOT_FOUND', 'INSUFFICIENT_FUNDS']);
    expect((decision.outcomes[0] as { error: BankError }).error).toBeInstanceOf(AccountNotFoundError);
    expect(decision).toMatchObject({ plans: [], updates: [] });
    expect(decision.failures.map((f) => [f.idempotencyKey, f.reason])).toEqual([
      ['k1', 'ACCOUNT_NOT_FOUND'],
      ['k2', 'INSUFFICIENT_FUNDS'],
    ]);
  });

  it('replays a stored business failure for the same request even when funds now suffice; another request is REUSED', () => {
    const failed = item(A, B, 50n, 'poor');
    const storedFailure = { requestHash: failed.request.requestHash, reason: 'INSUFFICIENT_FUNDS' as const, metadata: { accountId: A } };
    const decision = decideTransferBatch(
      [{ ...failed, storedFailure }, { ...item(A, B, 51n, 'poor'), storedFailure }],
      states([A, 1_000n], [B, 0n]),
      identities(),
    );
    expect(summary(decision.outcomes)).toEqual(['INSUFFICIENT_FUNDS', 'IDEMPOTENCY_KEY_REUSED']);
    expect((decision.outcomes[0] as { error: BankError }).error.metadata).toEqual({ accountId: A, replayed: 'true' });
    expect(decision).toMatchObject({ plans: [], failures: [] });
  });

  it('answers requests whose accounts are locked elsewhere with STORAGE_UNAVAILABLE, binding nothing', () => {
    const decision = decideTransferBatch([{ ...item(A, B, 5n, 'busy'), accountsBusy: true }, item(C, B, 0n + 1n, 'free')], states([B, 0n], [C, 10n]), identities());
    expect(summary(decision.outcomes)).toEqual(['STORAGE_UNAVAILABLE', 'ok 1']);
    expect(decision.failures).toEqual([]);
  });
});

describe('duplicateOutcome', () => {
  const original = request(A, B, 10n, 'k');
  const first: TransferOutcome = { ok: true, transfer: stored(original), replayed: false };

  it('replays a completed first request for the same request and says REUSED for another', () => {
    expect(duplicateOutcome(first, original, original)).toEqual({ ok: true, transfer: first.ok && first.transfer, replayed: true });
    const other = duplicateOutcome(first, original, request(A, B, 10n, 'k', 'different'));
    expect(other.ok === false && other.error).toBeInstanceOf(IdempotencyKeyReusedError);
  });

  it('replays a business failure of the first (it is bound to the key)', () => {
    const outcome = duplicateOutcome({ ok: false, error: new InsufficientFundsError(A) }, original, original);
    expect(outcome.ok === false && outcome.error).toBeInstanceOf(InsufficientFundsError);
  });

  it('says IN_FLIGHT when the first never executed (its key stays free)', () => {
    const outcome = duplicateOutcome({ ok: false, error: new IdempotencyKeyInFlightError() }, original, original);
    expect(outcome.ok === false && outcome.error).toBeInstanceOf(IdempotencyKeyInFlightError);
  });

  it('scopes keys per sender', () => {
    expect(idempotencyScope({ senderAccountId: A, idempotencyKey: 'k' })).not.toBe(idempotencyScope({ senderAccountId: B, idempotencyKey: 'k' }));
  });
});
