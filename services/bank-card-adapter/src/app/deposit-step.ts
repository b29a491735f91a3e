// The deposit phase: credit the account at the bank (idempotent by
// reference), and settle an unknown outcome by asking the bank (GetDeposit
// with void_if_absent) instead of guessing. A refund follows only a
// definitive refusal or the bank's proof that the reference never applies.

import { backoffDelayMs } from '@wallet/platform';
import { setTimeout as sleep } from 'node:timers/promises';
import { classifyDepositError, toBankCallError, type DepositRequest } from '../clients/bank.js';
import { LeaseLostError } from '../db/top-ups.js';
import { decideAfterDepositFailure, leaseMs, resolveUnknownDeposit, waitDelayMs, type DepositLookup } from '../domain/saga.js';
import { depositReference, type TopUpRecord } from '../domain/top-up.js';
import { Pending, type Run, type SagaContext } from './saga.js';

function depositRequestOf(record: TopUpRecord): DepositRequest {
  return {
    accountId: record.accountId,
    amountMinor: record.amountMinor,
    currency: record.currency,
    depositReference: depositReference(record.id),
    topUpId: record.id,
    cardLast4: record.cardLast4,
    cardBrand: record.cardBrand,
    // Recorded by the bank with the deposit; from the journal, so recovery (no user token) passes it too.
    // A top-up journaled before initiators were recorded is attributed to the adapter itself: the bank
    // refuses an empty initiator, and such a top-up must still be credited, not refunded.
    initiatedBy: record.initiatedBy ?? LEGACY_INITIATOR,
  };
}

/** Initiator of deposits for top-ups journaled before issue #10 (no user subject recorded). */
export const LEGACY_INITIATOR = 'bank-card-adapter';

export async function depositStep(ctx: SagaContext, run: Run): Promise<TopUpRecord | Pending> {
  const { repository: repo, settings: s } = ctx;
  // A top-up that already waited on the bank tries once, then asks: a pass over a backlog stays short.
  const attemptsMax = run.record.waitRounds > 0 ? 1 : s.depositAttemptsMax;
  const startedAt = Date.now();
  for (let attempt = 1; attempt <= attemptsMax; attempt += 1) {
    run.record = await repo.update(run.record, run.token, { depositAttempts: run.record.depositAttempts + 1 }, leaseMs(s.bankTimeoutMs, s.leaseMarginMs));
    try {
      const deposit = await ctx.bank.deposit(depositRequestOf(run.record), run.headers);
      ctx.metrics.depositAttempts.inc({ result: deposit.replayed ? 'replayed' : 'ok' });
      ctx.crashHook?.('after_deposit_applied');
      return await complete(ctx, run, deposit.depositId, deposit.replayed ? 'deposit_replayed' : 'deposit_applied');
    } catch (error) {
      if (error instanceof LeaseLostError) throw error;
      const failure = toBankCallError(error);
      const failureClass = classifyDepositError(failure);
      ctx.metrics.depositAttempts.inc({ result: failureClass });
      const nextDelayMs = backoffDelayMs(attempt - 1, s.retryDelayMsMin, s.retryDelayMsMax);
      const decision = decideAfterDepositFailure({
        failure: failureClass,
        attemptsDone: attempt,
        attemptsMax,
        elapsedMs: Date.now() - startedAt,
        nextDelayMs,
        retryMsMax: s.depositRetryMsMax,
      });
      const depositError = failure.reason ?? failure.code;
      run.log.warn({ attempt, code: failure.code, reason: failure.reason, failureClass, decision: decision.action }, 'deposit attempt failed');
      const depositOutcomeUnknown = run.record.depositOutcomeUnknown || failureClass === 'retryable';
      run.record = await repo.update(run.record, run.token, { depositOutcomeUnknown, depositError }, leaseMs(nextDelayMs + s.bankTimeoutMs, s.leaseMarginMs));
      if (decision.action === 'refund') return startRefund(ctx, run, depositError);
      if (decision.action === 'look_up') return lookUpDeposit(ctx, run);
      await sleep(nextDelayMs);
    }
  }
  return lookUpDeposit(ctx, run);
}

/** Asks the bank what became of the reference, voiding it if it never applied; waits durably while the bank cannot say. */
async function lookUpDeposit(ctx: SagaContext, run: Run): Promise<TopUpRecord | Pending> {
  const { repository: repo, settings: s } = ctx;
  run.record = await repo.update(run.record, run.token, {}, leaseMs(s.bankTimeoutMs, s.leaseMarginMs));
  let lookup: DepositLookup;
  try {
    lookup = await ctx.bank.lookUpDeposit(depositReference(run.record.id), true, run.headers);
  } catch (error) {
    const failure = toBankCallError(error);
    if (classifyDepositError(failure) === 'unauthorized') {
      run.log.error({ code: failure.code, reason: failure.reason }, 'the bank refuses this service as a caller (its certificate, TLS_CERT_FILE, is not in the bank\'s caller table); the deposit outcome stays unknown');
      lookup = { status: 'unauthorized' };
    } else {
      run.log.warn({ code: failure.code, reason: failure.reason }, 'deposit lookup failed; the deposit outcome stays unknown');
      lookup = { status: 'unreachable' };
    }
  }
  ctx.metrics.depositLookups.inc({ result: lookup.status });
  const resolution = resolveUnknownDeposit(lookup);
  switch (resolution.action) {
    case 'complete':
      run.log.info({ depositId: resolution.depositId }, 'the bank has the deposit');
      return complete(ctx, run, resolution.depositId, 'deposit_found');
    case 'refund':
      run.log.warn('the bank voided the deposit reference: it never credits the account');
      return startRefund(ctx, run, 'DEPOSIT_REFERENCE_VOIDED');
    case 'wait': {
      const waitMs = waitDelayMs(run.record.waitRounds, s.waitDelayMsMin, s.waitDelayMsMax);
      run.log.error({ lookup: lookup.status, waitMs }, 'deposit outcome unknown; waiting for the bank before deciding (never refunded blindly)');
      return new Pending(run.record, waitMs);
    }
  }
}

async function complete(ctx: SagaContext, run: Run, depositId: string, cause: string): Promise<TopUpRecord> {
  run.log.info({ depositId, cause }, 'deposit applied; top-up completed');
  return ctx.repository.transition(run.record, run.token, 'COMPLETED', { depositId, depositError: null }, 0, { depositId, cause });
}

/** Compensation: from here on only a refund may happen, never a deposit. */
async function startRefund(ctx: SagaContext, run: Run, depositError: string): Promise<TopUpRecord> {
  const lease = leaseMs(ctx.settings.gatewayTimeoutMs, ctx.settings.leaseMarginMs);
  const refunding = await ctx.repository.transition(run.record, run.token, 'REFUNDING', { depositError }, lease, { depositError });
  run.log.warn({ depositError }, 'the deposit will never apply; refunding the charge');
  ctx.crashHook?.('after_refund_decided');
  return refunding;
}
