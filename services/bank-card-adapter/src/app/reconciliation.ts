// Reconciliation: a charge whose outcome was unknown may land at the gateway
// after the top-up was marked failed ("nothing was charged"). Each pass asks
// the gateway about a bounded batch of recent failed top-ups by their charge
// idempotency key and refunds any charge it finds. State lives in the journal
// (lease_until as "check again after", wait_rounds, reconciled_at), so a
// restart loses nothing and replicas split the work.

import { randomUUID } from 'node:crypto';
import { trace, withSpan } from '@wallet/platform/tracing';
import { asGatewayError } from '../clients/payment-gateway/types.js';
import { leaseMs, waitDelayMs } from '../domain/saga.js';
import { chargeIdempotencyKey, type TopUpRecord } from '../domain/top-up.js';
import { ATTR, requestLinks, SPAN } from '../tracing.js';
import { driveSafely, type SagaContext } from './saga.js';

export interface ReconciliationOptions {
  /** Failed top-ups older than this are no longer checked. */
  windowMs: number;
  batchSizeMax: number;
}

/** One pass; returns how many failed top-ups it checked. */
export async function reconcileFailedTopUps(ctx: SagaContext, options: ReconciliationOptions): Promise<number> {
  const { settings: s } = ctx;
  const token = randomUUID();
  const claimed = await ctx.repository.claimFailedToReconcile(token, leaseMs(s.gatewayTimeoutMs, s.leaseMarginMs), options.windowMs, options.batchSizeMax);
  for (const record of claimed) {
    const attributes = { [ATTR.id]: record.id, [ATTR.stateFrom]: record.state };
    await withSpan(SPAN.reconcile, { attributes, links: requestLinks(record) }, async (span) => {
      span.setAttribute(ATTR.reconciliationAction, await reconcileOne(ctx, record, token));
    });
  }
  trace.getActiveSpan()?.setAttribute(ATTR.reconciliationChecked, claimed.length);
  return claimed.length;
}

/** Checks one failed top-up; returns what it found (the metric's action label). */
async function reconcileOne(ctx: SagaContext, record: TopUpRecord, token: string): Promise<string> {
  const { repository: repo, settings: s } = ctx;
  const log = ctx.logger.child({ topUpId: record.id, reconciliation: true });
  // Checks thin out exponentially up to the durable-wait cap; rare (only unknown charges), and bounded per pass.
  const recheckMs = waitDelayMs(record.waitRounds, s.waitDelayMsMin, s.waitDelayMsMax);
  let found;
  try {
    found = await ctx.gateway.findCharge(chargeIdempotencyKey(record.id));
  } catch (error) {
    const failure = asGatewayError(error);
    ctx.metrics.reconciliationActions.inc({ action: 'lookup_failed' });
    log.warn({ kind: failure.kind, code: failure.code }, 'reconciliation lookup failed; checking again later');
    await repo.release(record, token, recheckMs);
    return 'lookup_failed';
  }
  if (found?.status === 'succeeded') {
    // The customer paid for a top-up we told them failed: refund it.
    ctx.metrics.reconciliationActions.inc({ action: 'late_charge_refunded' });
    log.warn({ chargeId: found.chargeId }, 'a charge landed after the top-up failed; refunding it');
    const refunding = await repo.transition(record, token, 'REFUNDING', { chargeId: found.chargeId }, leaseMs(s.gatewayTimeoutMs, s.leaseMarginMs), {
      cause: 'late_charge',
      chargeId: found.chargeId,
    });
    await driveSafely(ctx, { record: refunding, token, card: undefined, log, headers: {} });
    return 'late_charge_refunded';
  }
  if (found) {
    // Declined at the gateway: nothing was charged, nothing more to check.
    ctx.metrics.reconciliationActions.inc({ action: 'declined' });
    await repo.update(record, token, { reconciledAt: ctx.now() }, 0);
    return 'declined';
  }
  ctx.metrics.reconciliationActions.inc({ action: 'no_charge' });
  const updated = await repo.update(record, token, { waitRounds: record.waitRounds + 1 }, s.leaseMarginMs);
  await repo.release(updated, token, recheckMs);
  return 'no_charge';
}
