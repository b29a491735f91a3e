// The charge phase: charge the card (same idempotency key every attempt),
// or settle a charge whose outcome is unknown by asking the gateway.

import { backoffDelayMs } from '@wallet/platform';
import { setTimeout as sleep } from 'node:timers/promises';
import { GATEWAY_CIRCUIT_OPEN } from '../clients/breakers.js';
import { asGatewayError, type ChargeResult } from '../clients/payment-gateway/types.js';
import { LeaseLostError } from '../db/top-ups.js';
import { decideAfterChargeFailure, isAmbiguous, leaseMs, resolveUnknownCharge, type ChargeLookup } from '../domain/saga.js';
import { chargeIdempotencyKey, declineReason, type TopUpRecord } from '../domain/top-up.js';
import type { ValidCard } from '../domain/validation.js';
import { Pending, type Run, type SagaContext } from './saga.js';

export async function chargeStep(ctx: SagaContext, run: Run, card: ValidCard): Promise<TopUpRecord | Pending> {
  const { repository: repo, settings: s } = ctx;
  let everAmbiguous = run.record.chargeOutcomeUnknown;
  for (let attempt = 1; attempt <= s.chargeAttemptsMax; attempt += 1) {
    const bookkeeping = { chargeAttempts: run.record.chargeAttempts + 1, lastChargeAttemptAt: ctx.now() };
    const lease = leaseMs(s.gatewayTimeoutMs, s.leaseMarginMs);
    // Persisted before the call: from here on a crash leaves CHARGING, "maybe charged".
    run.record =
      run.record.state === 'RECEIVED'
        ? await repo.transition(run.record, run.token, 'CHARGING', bookkeeping, lease)
        : await repo.update(run.record, run.token, bookkeeping, lease);
    try {
      const result = await ctx.gateway.charge({
        idempotencyKey: chargeIdempotencyKey(run.record.id),
        amountMinor: run.record.amountMinor,
        currency: run.record.currency,
        card: { number: card.digits, expiryMonth: card.expiryMonth, expiryYear: card.expiryYear, cvc: card.cvc, holderName: card.holderName },
      });
      ctx.metrics.gatewayCalls.inc({ operation: 'charge', result: result.status });
      ctx.crashHook?.('before_charge_recorded');
      return await recordCharge(ctx, run, result);
    } catch (error) {
      if (error instanceof LeaseLostError) throw error;
      const failure = asGatewayError(error);
      ctx.metrics.gatewayCalls.inc({ operation: 'charge', result: failure.kind });
      everAmbiguous ||= isAmbiguous(failure.kind);
      run.log.warn({ attempt, kind: failure.kind, code: failure.code }, 'charge attempt failed');
      run.record = await repo.update(run.record, run.token, { lastChargeError: failure.kind, chargeOutcomeUnknown: everAmbiguous }, s.leaseMarginMs);
      const decision = decideAfterChargeFailure({
        kind: failure.kind,
        attemptsDone: attempt,
        maxAttempts: s.chargeAttemptsMax,
        everAmbiguous,
        retryPointless: failure.code === GATEWAY_CIRCUIT_OPEN,
      });
      if (decision.action === 'fail') {
        const patch = { failureReason: decision.reason, failureMessage: decision.message };
        return repo.transition(run.record, run.token, 'FAILED', patch, 0, { gatewayError: failure.code });
      }
      if (decision.action === 'resolve_unknown') return resolveChargeStep(ctx, run);
      await pause(ctx, run, attempt);
    }
  }
  return resolveChargeStep(ctx, run);
}

export async function recordCharge(ctx: SagaContext, run: Run, result: ChargeResult): Promise<TopUpRecord> {
  const repo = ctx.repository;
  if (result.status === 'declined') {
    const declineCode = result.declineCode ?? 'generic_decline';
    run.log.info({ declineCode }, 'charge declined');
    const patch = { chargeId: result.chargeId, declineCode, failureReason: declineReason(declineCode) };
    return repo.transition(run.record, run.token, 'DECLINED', patch, 0, { chargeId: result.chargeId, declineCode });
  }
  const lease = leaseMs(ctx.settings.bankTimeoutMs, ctx.settings.leaseMarginMs);
  const charged = await repo.transition(run.record, run.token, 'CHARGED', { chargeId: result.chargeId }, lease, { chargeId: result.chargeId });
  run.log.info({ chargeId: result.chargeId }, 'card charged');
  ctx.crashHook?.('after_charge_recorded');
  return charged;
}

/** Settles a charge whose outcome is unknown by asking the gateway about its idempotency key. */
export async function resolveChargeStep(ctx: SagaContext, run: Run): Promise<TopUpRecord | Pending> {
  const { repository: repo, settings: s } = ctx;
  if (run.record.state === 'RECEIVED') {
    // Journaled, but the charge was never sent, and without the card it never can be.
    const patch = { failureReason: 'PAYMENT_GATEWAY_ERROR', failureMessage: 'the top-up was interrupted before the card was charged; nothing was charged' };
    return repo.transition(run.record, run.token, 'FAILED', patch, 0, { cause: 'interrupted_before_charge' });
  }
  run.record = await repo.update(run.record, run.token, {}, leaseMs(s.gatewayTimeoutMs, s.leaseMarginMs));
  let lookup: ChargeLookup;
  try {
    const found = await ctx.gateway.findCharge(chargeIdempotencyKey(run.record.id));
    ctx.metrics.gatewayCalls.inc({ operation: 'find_charge', result: found ? 'found' : 'not_found' });
    lookup = found ? { found: true, ...found } : { found: false };
  } catch (error) {
    const failure = asGatewayError(error);
    ctx.metrics.gatewayCalls.inc({ operation: 'find_charge', result: failure.kind });
    run.log.warn({ kind: failure.kind, code: failure.code }, 'charge lookup failed; charge outcome still unknown');
    return new Pending(run.record);
  }
  const resolution = resolveUnknownCharge({
    lookup,
    lastAttemptAt: run.record.lastChargeAttemptAt,
    lastChargeError: run.record.lastChargeError,
    now: ctx.now(),
    gatewayTimeoutMs: s.gatewayTimeoutMs,
    graceMs: s.chargeResolutionGraceMs,
  });
  switch (resolution.action) {
    case 'charged':
      return recordCharge(ctx, run, { chargeId: resolution.chargeId, status: 'succeeded' });
    case 'declined':
      return recordCharge(ctx, run, { chargeId: resolution.chargeId, status: 'declined', declineCode: resolution.declineCode });
    case 'fail': {
      run.log.info({ reason: resolution.reason }, 'the gateway has no charge for this top-up; nothing was charged');
      const patch = { failureReason: resolution.reason, failureMessage: resolution.message };
      return repo.transition(run.record, run.token, 'FAILED', patch, 0, { cause: 'no_charge_at_gateway' });
    }
    case 'wait':
      return new Pending(run.record);
  }
}

/** Waits before the next attempt, keeping the lease through the pause so nobody else starts on it. */
export async function pause(ctx: SagaContext, run: Run, attempt: number): Promise<void> {
  const delayMs = backoffDelayMs(attempt - 1, ctx.settings.retryDelayMsMin, ctx.settings.retryDelayMsMax);
  run.record = await ctx.repository.update(run.record, run.token, {}, leaseMs(delayMs, ctx.settings.leaseMarginMs));
  await sleep(delayMs);
}
