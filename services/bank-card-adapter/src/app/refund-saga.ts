// The refund-to-card saga's steps (ADR 0018): debit the wallet (bank
// RefundDeposit, reference = refund id), refund the card (payment gateway,
// key refundCardKey), or credit the wallet back when the card refund is
// refused for good (bank CancelRefund). Each step persists its transition
// before the side effect it guards; an unknown outcome is looked up (bank
// GetRefund, the gateway's refund by key), never guessed. Used by the request
// path and the recovery loop alike.

import { backoffDelayMs, formatAmountMinor, type Logger } from '@wallet/platform';
import { setTimeout as sleep } from 'node:timers/promises';
import { classifyDepositError, toBankCallError } from '../clients/bank.js';
import { GATEWAY_CIRCUIT_OPEN } from '../clients/breakers.js';
import { asGatewayError } from '../clients/payment-gateway/types.js';
import { LeaseLostError } from '../db/top-ups.js';
import {
  decideAfterCardRefundFailure,
  decideAfterDebitFailure,
  isRefundFinished,
  refundCardKey,
  resolveCardRefund,
  resolveUnknownDebit,
  type CardRefundLookup,
  type DebitLookup,
  type RefundRecord,
} from '../domain/refund.js';
import { leaseMs, waitDelayMs } from '../domain/saga.js';
import type { SagaContext } from './saga.js';

/** One worker's hold on one refund while it drives the saga. */
export interface RefundRun {
  record: RefundRecord;
  token: string;
  log: Logger;
  path: 'request' | 'recovery';
}

/** The step ended without a final state; recovery continues after waitMs. */
class Parked {
  constructor(
    readonly record: RefundRecord,
    readonly waitMs: number,
  ) {}
}

type StepResult = RefundRecord | Parked;

/** Bank reasons that end a refund before anything was debited, as the client hears them. */
const DEBIT_REFUSALS: Record<string, string> = {
  INSUFFICIENT_FUNDS: 'the wallet does not hold enough available money for this refund; nothing was refunded',
  REFUND_EXCEEDS_DEPOSIT: 'the refund is more than what remains of the top-up; nothing was refunded',
};

/** Drives the refund as far as it can go; never throws for infrastructure failures (the recovery loop finishes it). */
export async function driveRefund(ctx: SagaContext, run: RefundRun): Promise<RefundRecord> {
  try {
    for (let step = 0; step < 4 && !isRefundFinished(run.record.state); step += 1) {
      const result = await refundStep(ctx, run);
      if (result instanceof Parked) return await parkRefund(ctx, run, result);
      run.record = result;
    }
  } catch (error) {
    if (error instanceof LeaseLostError) {
      run.log.warn('lease lost; another worker continues this refund');
      return (await ctx.refunds.findById(run.record.id).catch(() => null)) ?? run.record;
    }
    run.log.error({ err: error, state: run.record.state }, 'refund step failed; left for recovery');
  }
  const outcome = isRefundFinished(run.record.state) ? run.record.state.toLowerCase() : 'pending';
  ctx.metrics.topUpRefunds.inc({ outcome, path: run.path });
  return run.record;
}

function refundStep(ctx: SagaContext, run: RefundRun): Promise<StepResult> {
  switch (run.record.state) {
    case 'DEBITING':
      return debitStep(ctx, run);
    case 'DEBITED':
      return cardStep(ctx, run);
    case 'CANCELLING':
      return cancelStep(ctx, run);
    default:
      return Promise.resolve(run.record);
  }
}

async function parkRefund(ctx: SagaContext, run: RefundRun, parked: Parked): Promise<RefundRecord> {
  let record = parked.record;
  try {
    record = await ctx.refunds.update(record, run.token, { waitRounds: record.waitRounds + 1 }, ctx.settings.leaseMarginMs);
    await ctx.refunds.release(record, run.token, parked.waitMs);
  } catch (error) {
    // The lease then simply expires; recovery takes over a little later.
    run.log.warn({ err: error }, 'could not release the refund');
  }
  ctx.metrics.topUpRefunds.inc({ outcome: 'pending', path: run.path });
  return record;
}

function waitFor(ctx: SagaContext, record: RefundRecord): Parked {
  return new Parked(record, waitDelayMs(record.waitRounds, ctx.settings.waitDelayMsMin, ctx.settings.waitDelayMsMax));
}

async function pauseRefund(ctx: SagaContext, run: RefundRun, attempt: number): Promise<void> {
  const delayMs = backoffDelayMs(attempt - 1, ctx.settings.retryDelayMsMin, ctx.settings.retryDelayMsMax);
  run.record = await ctx.refunds.update(run.record, run.token, {}, leaseMs(delayMs, ctx.settings.leaseMarginMs));
  await sleep(delayMs);
}

/** DEBITING: RefundDeposit with the refund id as reference (idempotent), retried, then looked up. */
async function debitStep(ctx: SagaContext, run: RefundRun): Promise<StepResult> {
  const { refunds: repo, settings: s } = ctx;
  const attemptsMax = run.record.waitRounds > 0 ? 1 : s.depositAttemptsMax;
  for (let attempt = 1; attempt <= attemptsMax; attempt += 1) {
    run.record = await repo.update(run.record, run.token, { debitAttempts: run.record.debitAttempts + 1 }, leaseMs(s.bankTimeoutMs, s.leaseMarginMs));
    const r = run.record;
    try {
      const debit = await ctx.bank.refundDeposit({ topUpId: r.topUpId, amountMinor: r.amountMinor, currency: r.currency, refundReference: r.id, initiatedBy: r.initiatedBy });
      if (debit.status === 'cancelled') return await repo.transition(r, run.token, 'FAILED', { failureReason: 'CARD_REFUND_DECLINED' }, 0, { cause: 'already_cancelled' });
      const debited = await repo.transition(r, run.token, 'DEBITED', {}, leaseMs(s.gatewayTimeoutMs, s.leaseMarginMs), { replayed: debit.replayed });
      run.log.info({ amountMinor: r.amountMinor.toString() }, 'wallet debited for the refund');
      ctx.crashHook?.('after_refund_debited');
      return debited;
    } catch (error) {
      if (error instanceof LeaseLostError) throw error;
      const failure = toBankCallError(error);
      const decision = decideAfterDebitFailure({ failure: classifyDepositError(failure), attemptsDone: attempt, attemptsMax });
      run.log.warn({ attempt, code: failure.code, reason: failure.reason, decision: decision.action }, 'refund debit attempt failed');
      if (decision.action === 'fail') {
        const reason = failure.reason && DEBIT_REFUSALS[failure.reason] ? failure.reason : 'REFUND_NOT_APPLIED';
        const message = DEBIT_REFUSALS[reason] ?? `the bank refused the refund (${failure.reason ?? failure.code}); nothing was refunded`;
        return repo.transition(r, run.token, 'FAILED', { failureReason: reason, failureMessage: message }, 0, { bankReason: failure.reason ?? failure.code });
      }
      if (decision.action === 'look_up') return lookUpDebit(ctx, run);
      await pauseRefund(ctx, run, attempt);
    }
  }
  return lookUpDebit(ctx, run);
}

/** Asks the bank what became of the reference, voiding it if it never applied; waits while the bank cannot say. */
async function lookUpDebit(ctx: SagaContext, run: RefundRun): Promise<StepResult> {
  const { refunds: repo, settings: s } = ctx;
  run.record = await repo.update(run.record, run.token, {}, leaseMs(s.bankTimeoutMs, s.leaseMarginMs));
  let lookup: DebitLookup;
  try {
    lookup = await ctx.bank.lookUpRefund(run.record.id, true);
  } catch (error) {
    const failure = toBankCallError(error);
    run.log.warn({ code: failure.code, reason: failure.reason }, 'refund lookup failed; the debit outcome stays unknown');
    lookup = { status: 'unreachable' };
  }
  const resolution = resolveUnknownDebit(lookup);
  switch (resolution.action) {
    case 'debited':
      return repo.transition(run.record, run.token, 'DEBITED', {}, leaseMs(s.gatewayTimeoutMs, s.leaseMarginMs), { cause: 'debit_found' });
    case 'fail': {
      const message = resolution.reason === 'REFUND_NOT_APPLIED' ? 'the bank never applied the refund (voided); nothing was refunded' : 'the refund was cancelled; nothing was refunded';
      return repo.transition(run.record, run.token, 'FAILED', { failureReason: resolution.reason, failureMessage: message }, 0, { lookup: lookup.status });
    }
    case 'wait':
      run.log.error({ lookup: lookup.status }, 'refund debit outcome unknown; waiting for the bank before deciding');
      return waitFor(ctx, run.record);
  }
}

/** DEBITED: refund the card (same key every attempt); an earlier attempt is looked up first. */
async function cardStep(ctx: SagaContext, run: RefundRun): Promise<StepResult> {
  const { refunds: repo, settings: s } = ctx;
  const topUp = await ctx.repository.findById(run.record.topUpId);
  if (!topUp?.chargeId) throw new Error(`top-up ${run.record.topUpId} of refund ${run.record.id} has no charge`);
  if (run.record.cardAttempts > 0) {
    const lookup = await findCardRefund(ctx, run);
    if (lookup.found === true) return succeed(ctx, run, lookup.refundId, 'found');
    if (lookup.found === 'unknown') return waitFor(ctx, run.record);
  }
  for (let attempt = 1; attempt <= s.refundAttemptsMax; attempt += 1) {
    run.record = await repo.update(run.record, run.token, { cardAttempts: run.record.cardAttempts + 1 }, leaseMs(s.gatewayTimeoutMs, s.leaseMarginMs));
    try {
      const refund = await ctx.gateway.refund({ chargeId: topUp.chargeId, idempotencyKey: refundCardKey(run.record.id), amountMinor: run.record.amountMinor });
      ctx.metrics.gatewayCalls.inc({ operation: 'refund', result: 'succeeded' });
      return await succeed(ctx, run, refund.refundId, 'refunded');
    } catch (error) {
      if (error instanceof LeaseLostError) throw error;
      const failure = asGatewayError(error);
      ctx.metrics.gatewayCalls.inc({ operation: 'refund', result: failure.kind });
      run.log.warn({ attempt, kind: failure.kind, code: failure.code }, 'card refund attempt failed');
      const retryPointless = failure.code === GATEWAY_CIRCUIT_OPEN;
      const decision = decideAfterCardRefundFailure({ kind: failure.kind, attemptsDone: attempt, attemptsMax: s.refundAttemptsMax, retryPointless });
      if (decision.action === 'wait') return waitFor(ctx, run.record);
      if (decision.action === 'look_up') {
        const lookup = await findCardRefund(ctx, run);
        const resolution = resolveCardRefund({ lookup, refused: failure.kind === 'rejected', attemptsDone: attempt, attemptsMax: s.refundAttemptsMax });
        if (resolution.action === 'succeeded') return succeed(ctx, run, resolution.refundId, 'found');
        if (resolution.action === 'wait') return waitFor(ctx, run.record);
        if (resolution.action === 'cancel') {
          run.log.warn({ code: failure.code }, 'the gateway refused the card refund; crediting the wallet back');
          const patch = { failureReason: 'CARD_REFUND_DECLINED', failureMessage: `the card refund was refused (${failure.code}); the amount goes back to the wallet` };
          return repo.transition(run.record, run.token, 'CANCELLING', patch, leaseMs(s.bankTimeoutMs, s.leaseMarginMs), { gatewayError: failure.code });
        }
      }
      await pauseRefund(ctx, run, attempt);
    }
  }
  return waitFor(ctx, run.record);
}

async function findCardRefund(ctx: SagaContext, run: RefundRun): Promise<CardRefundLookup> {
  try {
    const found = await ctx.gateway.findRefund(refundCardKey(run.record.id));
    ctx.metrics.gatewayCalls.inc({ operation: 'find_refund', result: found ? 'found' : 'not_found' });
    return found ? { found: true, refundId: found.refundId } : { found: false };
  } catch (error) {
    const failure = asGatewayError(error);
    ctx.metrics.gatewayCalls.inc({ operation: 'find_refund', result: failure.kind });
    run.log.warn({ kind: failure.kind, code: failure.code }, 'card refund lookup failed; its outcome stays unknown');
    return { found: 'unknown' };
  }
}

async function succeed(ctx: SagaContext, run: RefundRun, gatewayRefundId: string, cause: string): Promise<RefundRecord> {
  run.log.info({ gatewayRefundId, cause }, 'refunded to the card');
  return ctx.refunds.transition(run.record, run.token, 'SUCCEEDED', { gatewayRefundId }, 0, { gatewayRefundId, cause });
}

/** CANCELLING: CancelRefund until the bank confirms (idempotent); the wallet gets the amount back once. */
async function cancelStep(ctx: SagaContext, run: RefundRun): Promise<StepResult> {
  const { refunds: repo, settings: s } = ctx;
  run.record = await repo.update(run.record, run.token, {}, leaseMs(s.bankTimeoutMs, s.leaseMarginMs));
  try {
    const cancelled = await ctx.bank.cancelRefund(run.record.id);
    run.log.info({ replayed: cancelled.replayed, amount: formatAmountMinor(run.record.amountMinor) }, 'refund cancelled; the wallet was credited back');
    return await repo.transition(run.record, run.token, 'FAILED', {}, 0, { cause: 'cancelled', replayed: cancelled.replayed });
  } catch (error) {
    if (error instanceof LeaseLostError) throw error;
    const failure = toBankCallError(error);
    run.log.error({ code: failure.code, reason: failure.reason }, 'CancelRefund failed; the wallet is still debited, retrying later');
    return waitFor(ctx, run.record);
  }
}
