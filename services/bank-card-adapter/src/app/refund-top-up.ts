// The request path of refunds to the card (RefundTopUp, GetTopUpRefund):
// who may, what is refundable, the journal entry, then the saga
// (refund-saga.ts). A retry with the same key replays, resumes an abandoned
// refund, or answers its current state.

import { createHash, randomUUID } from 'node:crypto';
import { formatAmountMinor, isCurrencyCode, type Logger } from '@wallet/platform';
import { hasRole, type Principal } from '@wallet/platform/auth';
import { currentTraceparent } from '@wallet/platform/tracing';
import { toBankCallError } from '../clients/bank.js';
import { DependencyUnavailable, TopUpFailure, type FailureReason } from '../domain/failures.js';
import { isRefundFinished, refundAmount, type RefundRecord } from '../domain/refund.js';
import { leaseMs } from '../domain/saga.js';
import type { TopUpRecord } from '../domain/top-up.js';
import { assertMayTopUp, type Caller } from './caller.js';
import { driveRefund } from './refund-saga.js';
import type { SagaContext } from './saga.js';

export interface RefundTopUpInput {
  topUpId: string;
  amount: { amountMinor: bigint; currencyCode: string } | undefined;
  idempotencyKey: string;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const KEY_LENGTH_MAX = 255;
// eslint-disable-next-line no-control-regex -- control characters are exactly what this pattern is for
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f]/;

/** Refund failures say nothing about the top-up's charge (it stands): charged = true. */
function refused(reason: FailureReason, message: string, metadata: Record<string, string> = {}): TopUpFailure {
  return new TopUpFailure({ reason, message, charged: 'true', metadata });
}

function validate(input: RefundTopUpInput): void {
  const violations = [];
  if (!UUID.test(input.topUpId)) violations.push({ field: 'top_up_id', description: 'must be a UUID' });
  if (input.idempotencyKey.length < 1 || input.idempotencyKey.length > KEY_LENGTH_MAX) violations.push({ field: 'idempotency_key', description: `must be 1-${KEY_LENGTH_MAX} characters` });
  // PostgreSQL text refuses NUL: refused here, not as a storage failure.
  else if (CONTROL_CHARACTERS.test(input.idempotencyKey)) violations.push({ field: 'idempotency_key', description: 'must not contain control characters' });
  if (input.amount && !isCurrencyCode(input.amount.currencyCode)) violations.push({ field: 'amount.currency_code', description: 'must be an ISO 4217 code' });
  if (violations.length > 0) throw new TopUpFailure({ reason: 'INVALID_ARGUMENT', message: 'invalid refund request', charged: 'true', fieldViolations: violations });
  if (input.amount && input.amount.amountMinor <= 0n) throw refused('INVALID_AMOUNT', 'the refund amount must be greater than zero');
}

function requestHash(input: RefundTopUpInput): string {
  const parts = ['refund.v1', input.topUpId.toLowerCase(), input.amount?.amountMinor.toString() ?? '', input.amount?.currencyCode ?? ''];
  return createHash('sha256').update(JSON.stringify(parts)).digest('hex');
}

/**
 * The top-up, if the caller may refund it: the bank decides ownership with
 * the caller's own token (an account the caller may not use answers like an
 * unknown top-up); support is refused before anything is looked at.
 */
async function refundableTopUp(ctx: SagaContext, topUpId: string, caller: Caller): Promise<TopUpRecord> {
  const notFound = refused('TOP_UP_NOT_FOUND', `top-up ${topUpId} not found`);
  const topUp = await ctx.repository.findById(topUpId.toLowerCase());
  if (!topUp) throw notFound;
  let check;
  try {
    check = await ctx.bank.checkAccount(topUp.accountId, caller.authorization);
  } catch (error) {
    const failure = toBankCallError(error);
    throw new DependencyUnavailable('bank', `the bank could not confirm the account (${failure.code})`, failure.retryAfterSeconds);
  }
  if (check.outcome === 'not_found') throw notFound;
  if (check.outcome === 'forbidden') throw refused('ROLE_FORBIDDEN', 'this role may not refund top-ups');
  if (check.outcome === 'unauthenticated') throw refused('CALLER_UNAUTHENTICATED', 'the bank did not accept the access token');
  return topUp;
}

/** What the caller hears about a journaled refund: the refund, or the bank's refusal that ended it before any debit. */
function answer(record: RefundRecord, replayed: boolean): { record: RefundRecord; replayed: boolean } {
  if (record.state === 'FAILED' && (record.failureReason === 'INSUFFICIENT_FUNDS' || record.failureReason === 'REFUND_EXCEEDS_DEPOSIT')) {
    const metadata: Record<string, string> = { refund_id: record.id, ...(replayed ? { replayed: 'true' } : {}) };
    throw refused(record.failureReason, record.failureMessage ?? 'the bank refused the refund; nothing was refunded', metadata);
  }
  return { record, replayed };
}

export async function refundTopUp(ctx: SagaContext, input: RefundTopUpInput, context: { caller: Caller; requestId?: string }): Promise<{ record: RefundRecord; replayed: boolean }> {
  const { principal } = context.caller;
  assertMayTopUp(principal);
  validate(input);
  const topUp = await refundableTopUp(ctx, input.topUpId, context.caller);
  const hash = requestHash(input);
  const log = ctx.logger.child({ requestId: context.requestId, topUpId: topUp.id, caller: principal.subject });
  const existing = await ctx.refunds.findByKey(topUp.id, input.idempotencyKey);
  if (existing) return onExisting(ctx, existing, hash, log);
  if (topUp.state !== 'COMPLETED') {
    throw refused('TOP_UP_NOT_REFUNDABLE', `only a completed top-up can be refunded; this one is ${topUp.state.toLowerCase()}`, { state: topUp.state.toLowerCase() });
  }
  if (input.amount && input.amount.currencyCode !== topUp.currency) {
    throw refused('CURRENCY_MISMATCH', `the top-up is in ${topUp.currency}, the refund in ${input.amount.currencyCode}`);
  }
  const token = randomUUID();
  const s = ctx.settings;
  const inserted = await ctx.refunds.insertDebiting(
    {
      id: randomUUID(),
      topUpId: topUp.id,
      accountId: topUp.accountId,
      idempotencyKey: input.idempotencyKey,
      requestHash: hash,
      currency: topUp.currency,
      initiatedBy: principal.subject,
      traceContext: currentTraceparent(),
    },
    (refundedMinor) => refundAmount({ requestedMinor: input.amount?.amountMinor, topUpMinor: topUp.amountMinor, refundedMinor }),
    token,
    leaseMs(s.bankTimeoutMs, s.leaseMarginMs),
  );
  if ('remainingMinor' in inserted) {
    const remaining = formatAmountMinor(inserted.remainingMinor);
    throw refused('REFUND_EXCEEDS_DEPOSIT', `at most ${remaining} of the top-up remains to refund; nothing was refunded`, { remaining });
  }
  if ('exists' in inserted) {
    const winner = await ctx.refunds.findByKey(topUp.id, input.idempotencyKey);
    if (!winner) throw new Error('refund vanished after an idempotency conflict');
    return onExisting(ctx, winner, hash, log);
  }
  log.info({ refundId: inserted.inserted.id, amountMinor: inserted.inserted.amountMinor.toString() }, 'refund received');
  const final = await driveRefund(ctx, { record: inserted.inserted, token, log: log.child({ refundId: inserted.inserted.id }), path: 'request' });
  return answer(final, false);
}

async function onExisting(ctx: SagaContext, existing: { record: RefundRecord; leaseHeld: boolean }, hash: string, log: Logger): Promise<{ record: RefundRecord; replayed: boolean }> {
  const { record } = existing;
  if (record.requestHash !== hash) {
    throw refused('IDEMPOTENCY_KEY_REUSED', 'this idempotency key was already used for a different refund of this top-up', { refund_id: record.id });
  }
  if (isRefundFinished(record.state) || existing.leaseHeld) return answer(record, true);
  // Unfinished and nobody works on it: this retry finishes what it can.
  const token = randomUUID();
  const claimed = await ctx.refunds.claim(record.id, token, leaseMs(ctx.settings.bankTimeoutMs, ctx.settings.leaseMarginMs));
  if (!claimed) return answer((await ctx.refunds.findById(record.id)) ?? record, true);
  return answer(await driveRefund(ctx, { record: claimed, token, log: log.child({ refundId: claimed.id }), path: 'request' }), true);
}

/** GetTopUpRefund: one refund, or all of a top-up's; the account's owner (per the bank), support and admin. */
export async function getTopUpRefunds(ctx: SagaContext, query: { refundId: string; topUpId: string }, caller: Caller): Promise<RefundRecord[]> {
  const byRefund = query.refundId !== '';
  const id = byRefund ? query.refundId : query.topUpId;
  if (!UUID.test(id)) throw new TopUpFailure({ reason: 'INVALID_ARGUMENT', message: 'give a refund_id or a top_up_id (UUID)', charged: 'true', fieldViolations: [{ field: byRefund ? 'refund_id' : 'top_up_id', description: 'must be a UUID' }] });
  const refund = byRefund ? await ctx.refunds.findById(id.toLowerCase()) : null;
  if (byRefund && !refund) throw refused('REFUND_NOT_FOUND', `refund ${id} not found`);
  const topUpId = refund ? refund.topUpId : id;
  if (!mayRead(caller.principal)) await refundableTopUp(ctx, topUpId, caller);
  else if (!(await ctx.repository.findById(topUpId.toLowerCase()))) throw refused('TOP_UP_NOT_FOUND', `top-up ${topUpId} not found`);
  return refund ? [refund] : ctx.refunds.listByTopUp(topUpId.toLowerCase());
}

/** Support and admin read any refund; customers only their accounts' (the bank decides). */
function mayRead(principal: Principal): boolean {
  return hasRole(principal, 'admin') || hasRole(principal, 'support');
}
