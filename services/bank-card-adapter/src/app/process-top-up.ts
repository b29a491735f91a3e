// The request path (ProcessCardTopUp): validate, journal, drive the saga
// with the card in hand, and answer; a retry with the same key replays,
// resumes an abandoned top-up, or is told it is in flight.

import { randomUUID } from 'node:crypto';
import type { Logger } from '@wallet/platform';
import { currentTraceparent, withSpan } from '@wallet/platform/tracing';
import { toBankCallError } from '../clients/bank.js';
import type { ExistingTopUp } from '../db/top-ups.js';
import { DependencyUnavailable, TopUpFailure } from '../domain/failures.js';
import { topUpRequestHash } from '../domain/fingerprint.js';
import { decideOnExistingTopUp } from '../domain/idempotency.js';
import { leaseMs } from '../domain/saga.js';
import { chargedStatus, isTerminal, outcomeOf, type TopUpRecord } from '../domain/top-up.js';
import { ATTR, noteTopUp, SPAN } from '../tracing.js';
import { validateTopUp, type TopUpInput, type ValidCard } from '../domain/validation.js';
import { assertMayTopUp, maySeeTopUp, type Caller as VerifiedCaller } from './caller.js';
import { driveSafely, type SagaContext } from './saga.js';

export interface TopUpSuccess {
  record: TopUpRecord;
  replayed: boolean;
}

export interface RequestContext {
  requestId?: string;
  /** The verified caller (grpc/servicer.ts authenticates before calling). */
  caller: VerifiedCaller;
}

interface Caller {
  verified: VerifiedCaller;
  requestHash: string;
  card: ValidCard;
  log: Logger;
  headers: Record<string, string | undefined>;
}

function inFlight(record: TopUpRecord): TopUpFailure {
  return new TopUpFailure({
    reason: 'IDEMPOTENCY_KEY_IN_FLIGHT',
    message: 'a top-up with this idempotency key is still being processed; retry later with the same key',
    charged: chargedStatus(record.state),
    metadata: { top_up_id: record.id, state: record.state.toLowerCase() },
  });
}

/** What the caller is told: the completed top-up, or the failure of its current state. */
function answer(record: TopUpRecord, replayed: boolean): TopUpSuccess {
  const outcome = outcomeOf(record, { replayed });
  if (outcome.kind === 'failed') throw outcome.failure;
  return { record, replayed };
}

type Answered = { success: TopUpSuccess; failure?: undefined } | { failure: TopUpFailure; success?: undefined };

/** Handles ProcessCardTopUp in its span (top_up.process): resolves with the completed top-up or throws a TopUpFailure. */
export async function processTopUp(ctx: SagaContext, input: TopUpInput, context: RequestContext): Promise<TopUpSuccess> {
  const answered = await withSpan(SPAN.process, {}, async (span): Promise<Answered> => {
    try {
      const success = await handleTopUp(ctx, input, context);
      span.setAttributes({ [ATTR.id]: success.record.id, [ATTR.outcome]: 'completed', [ATTR.replayed]: success.replayed, [ATTR.stateTo]: success.record.state });
      return { success };
    } catch (error) {
      // A refused or unfinished top-up is an answer, not a fault of this service: its outcome is recorded, the span stays OK.
      if (!(error instanceof TopUpFailure)) throw error;
      const topUpId = error.metadata.top_up_id;
      span.setAttributes({ [ATTR.outcome]: error.reason.toLowerCase(), [ATTR.charged]: error.charged, ...(topUpId ? { [ATTR.id]: topUpId } : {}) });
      return { failure: error };
    }
  });
  if (answered.failure) throw answered.failure;
  return answered.success;
}

async function handleTopUp(ctx: SagaContext, input: TopUpInput, context: RequestContext): Promise<TopUpSuccess> {
  const s = ctx.settings;
  const { principal } = context.caller;
  assertMayTopUp(principal);
  const valid = validateTopUp(input, ctx.now(), s.limits);
  const log = ctx.logger.child({ requestId: context.requestId, accountId: valid.accountId, cardLast4: valid.card.last4, cardBrand: valid.card.brand, caller: principal.subject });
  const caller: Caller = {
    verified: context.caller,
    requestHash: topUpRequestHash(s.fingerprintSecret, valid),
    card: valid.card,
    log,
    headers: { 'x-request-id': context.requestId },
  };

  const existing = await ctx.repository.findByKey(valid.accountId, valid.idempotencyKey);
  if (existing) return onExisting(ctx, existing, caller);

  refuseWhileGatewayFails(ctx);
  await checkAccount(ctx, valid.accountId, valid.currency, caller);
  const token = randomUUID();
  const newTopUp = {
    id: randomUUID(),
    accountId: valid.accountId,
    idempotencyKey: valid.idempotencyKey,
    requestHash: caller.requestHash,
    amountMinor: valid.amountMinor,
    currency: valid.currency,
    cardLast4: valid.card.last4,
    cardBrand: valid.card.brand,
    initiatedBy: principal.subject,
    // This request's span: whoever finishes the top-up later (recovery) links back to it.
    traceContext: currentTraceparent(),
  };
  const inserted = await ctx.repository.insertReceived(newTopUp, token, leaseMs(s.gatewayTimeoutMs, s.leaseMarginMs));
  if (!inserted) {
    // A concurrent request with the same key journaled first.
    const winner = await ctx.repository.findByKey(valid.accountId, valid.idempotencyKey);
    if (!winner) throw new Error('top-up vanished after an idempotency conflict');
    return onExisting(ctx, winner, caller);
  }
  noteTopUp(inserted.id);
  log.info({ topUpId: inserted.id, amountMinor: inserted.amountMinor.toString() }, 'top-up received');
  const final = await driveSafely(ctx, { record: inserted, token, card: valid.card, log: log.child({ topUpId: inserted.id }), headers: caller.headers });
  return answer(final, false);
}

async function onExisting(ctx: SagaContext, existing: ExistingTopUp, caller: Caller): Promise<TopUpSuccess> {
  const { record } = existing;
  // Checked before anything else (even the request hash): another user learns nothing about this key.
  if (!maySeeTopUp(caller.verified.principal, record.initiatedBy)) throw accountNotFound(record.accountId);
  noteTopUp(record.id);
  const decision = decideOnExistingTopUp({ storedRequestHash: record.requestHash, requestHash: caller.requestHash, state: record.state, leaseHeld: existing.leaseHeld });
  switch (decision.action) {
    case 'reject_reused':
      throw new TopUpFailure({
        reason: 'IDEMPOTENCY_KEY_REUSED',
        message: 'this idempotency key was already used for a different top-up',
        charged: 'false',
        metadata: { top_up_id: record.id },
      });
    case 'replay':
      return answer(record, true);
    case 'in_flight':
      throw inFlight(record);
    case 'resume': {
      // An unfinished top-up nobody is working on: this retry carries the card, so it can finish the job.
      const token = randomUUID();
      const claimed = await ctx.repository.claim(record.id, token, leaseMs(ctx.settings.gatewayTimeoutMs, ctx.settings.leaseMarginMs));
      if (!claimed) {
        const latest = (await ctx.repository.findById(record.id)) ?? record;
        if (isTerminal(latest.state)) return answer(latest, true);
        throw inFlight(latest);
      }
      caller.log.info({ topUpId: claimed.id, state: claimed.state }, 'client retry resumes an unfinished top-up');
      const run = { record: claimed, token, card: caller.card, log: caller.log.child({ topUpId: claimed.id }), headers: caller.headers };
      return answer(await driveSafely(ctx, run), true);
    }
  }
}

/**
 * While the payment gateway's breaker is open a new top-up is refused before
 * anything is asked, journaled or charged: nothing stored means the caller's
 * retry with the same key later starts afresh (a journaled FAILED would be
 * replayed to it forever). Replays of known keys are answered above, from the
 * journal, whatever the gateway's state.
 */
function refuseWhileGatewayFails(ctx: SagaContext): void {
  const retryAfterSeconds = ctx.gateway.refusingForSeconds?.() ?? 0;
  if (retryAfterSeconds > 0) {
    throw new DependencyUnavailable('payment_gateway', 'the payment gateway is failing (circuit breaker open); nothing was stored', retryAfterSeconds);
  }
}

function accountNotFound(accountId: string): TopUpFailure {
  return new TopUpFailure({ reason: 'ACCOUNT_NOT_FOUND', message: `account ${accountId} does not exist; nothing was charged`, charged: 'false' });
}

/**
 * Before any charge, the bank decides with the caller's own token whether the
 * caller may use the account (unknown and not owned answer alike) and says
 * its currency. If the bank cannot answer, nothing is charged: the caller
 * retries with the same key.
 */
async function checkAccount(ctx: SagaContext, accountId: string, currency: string, caller: Caller): Promise<void> {
  let account;
  try {
    account = await ctx.bank.checkAccount(accountId, caller.verified.authorization, caller.headers);
  } catch (error) {
    const failure = toBankCallError(error);
    caller.log.warn({ code: failure.code, reason: failure.reason }, 'account check failed; nothing charged');
    throw new DependencyUnavailable('bank', 'the bank could not confirm the account', failure.retryAfterSeconds);
  }
  switch (account.outcome) {
    case 'not_found':
      throw accountNotFound(accountId);
    case 'forbidden':
      throw new TopUpFailure({ reason: 'ROLE_FORBIDDEN', message: 'the bank refuses this role a top-up of the account; nothing was charged', charged: 'false' });
    case 'unauthenticated':
      throw new TopUpFailure({ reason: 'CALLER_UNAUTHENTICATED', message: 'the bank did not accept the access token; nothing was charged', charged: 'false' });
    case 'usable':
      if (account.currency && account.currency !== currency) {
        throw new TopUpFailure({
          reason: 'CURRENCY_MISMATCH',
          message: `the account holds ${account.currency}, the top-up is in ${currency}; nothing was charged`,
          charged: 'false',
        });
      }
  }
}
