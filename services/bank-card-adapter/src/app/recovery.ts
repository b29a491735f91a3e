// The recovery path: finishes what crashed or failed requests left behind.
// On start and then every interval, claims unfinished top-ups whose lease (or
// durable wait) has expired, one at a time (SKIP LOCKED), and completes or
// compensates each; then reconciles a batch of recent failed top-ups. Passes
// never overlap, and each is bounded by its batch sizes.

import { randomUUID } from 'node:crypto';
import { recordSpanError, trace, withSpan } from '@wallet/platform/tracing';
import { leaseMs } from '../domain/saga.js';
import { isTerminal, type TopUpRecord } from '../domain/top-up.js';
import { ATTR, requestLinks, SPAN } from '../tracing.js';
import { reconcileFailedTopUps, type ReconciliationOptions } from './reconciliation.js';
import { driveRefund } from './refund-saga.js';
import { driveSafely, type SagaContext } from './saga.js';

export interface RecoveryOptions {
  intervalMs: number;
  /** Most unfinished top-ups handled per pass, so a pass always ends. */
  batchSizeMax: number;
  reconciliation: ReconciliationOptions;
}

/**
 * Claims the oldest unfinished top-up nobody holds and drives it as far as
 * it can go without the card. Returns null when there is none to claim.
 */
export async function recoverNext(ctx: SagaContext, excludeIds: readonly string[]): Promise<TopUpRecord | null> {
  const token = randomUUID();
  const claimed = await ctx.repository.claimNextUnfinished(token, leaseMs(ctx.settings.gatewayTimeoutMs, ctx.settings.leaseMarginMs), excludeIds);
  if (!claimed) return null;
  const attributes = { [ATTR.id]: claimed.id, [ATTR.stateFrom]: claimed.state };
  return withSpan(SPAN.recover, { attributes, links: requestLinks(claimed) }, async (span) => {
    const log = ctx.logger.child({ topUpId: claimed.id, recovery: true });
    log.info({ state: claimed.state }, 'recovering unfinished top-up');
    const final = await driveSafely(ctx, { record: claimed, token, card: undefined, log, headers: {} });
    const action = isTerminal(final.state) ? final.state.toLowerCase() : 'still_pending';
    ctx.metrics.recoveryActions.inc({ action });
    span.setAttributes({ [ATTR.stateTo]: final.state, [ATTR.recoveryAction]: action });
    log.info({ from: claimed.state, to: final.state }, 'recovery step done');
    return final;
  });
}

/** Claims the oldest unfinished refund to the card nobody holds and drives it on; null when there is none. */
export async function recoverNextRefund(ctx: SagaContext, excludeIds: readonly string[]): Promise<string | null> {
  const token = randomUUID();
  const claimed = await ctx.refunds.claimNextUnfinished(token, leaseMs(ctx.settings.bankTimeoutMs, ctx.settings.leaseMarginMs), excludeIds);
  if (!claimed) return null;
  const log = ctx.logger.child({ refundId: claimed.id, topUpId: claimed.topUpId, recovery: true });
  log.info({ state: claimed.state }, 'recovering unfinished refund');
  const final = await driveRefund(ctx, { record: claimed, token, log, path: 'recovery' });
  log.info({ from: claimed.state, to: final.state }, 'refund recovery step done');
  return claimed.id;
}

export class RecoveryLoop {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<number> | undefined;
  private stopping = false;

  constructor(
    private readonly ctx: SagaContext,
    private readonly options: RecoveryOptions,
  ) {}

  /** Runs a pass now, then one every interval until stop(). */
  start(): void {
    this.stopping = false;
    this.schedule(0);
  }

  private schedule(delayMs: number): void {
    if (this.stopping) return;
    this.timer = setTimeout(() => {
      void this.runPass().finally(() => this.schedule(this.options.intervalMs));
    }, delayMs);
  }

  /** One pass; returns how many unfinished top-ups it handled. Safe to call directly (tests). */
  runPass(): Promise<number> {
    if (this.running) return this.running;
    this.running = this.pass().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  /** A pass is its own trace (a root span): it serves no request; each top-up it takes over is a child. */
  private pass(): Promise<number> {
    return withSpan(SPAN.recoveryPass, { root: true }, async (span) => {
      const handled = await this.recoverBatch();
      span.setAttribute(ATTR.recoveryHandled, handled);
      return handled;
    });
  }

  private async recoverBatch(): Promise<number> {
    const { ctx } = this;
    // A top-up left pending in this pass is not picked again until the next one.
    const seen: string[] = [];
    try {
      for (let i = 0; i < this.options.batchSizeMax && !this.stopping; i += 1) {
        const recovered = await recoverNext(ctx, seen);
        if (!recovered) break;
        seen.push(recovered.id);
      }
      // Refunds to the card share the pass and its bound.
      const refundsSeen: string[] = [];
      for (let i = 0; i < this.options.batchSizeMax && !this.stopping; i += 1) {
        const refundId = await recoverNextRefund(ctx, refundsSeen);
        if (!refundId) break;
        refundsSeen.push(refundId);
      }
      if (!this.stopping) await reconcileFailedTopUps(ctx, this.options.reconciliation);
      ctx.metrics.refundFailedTopUps.set(await ctx.repository.countInState('REFUND_FAILED'));
    } catch (error) {
      ctx.metrics.recoveryActions.inc({ action: 'error' });
      ctx.logger.error({ err: error }, 'recovery pass failed; retrying next interval');
      // The pass ends normally (the loop goes on), but its span shows the failure.
      const span = trace.getActiveSpan();
      if (span) recordSpanError(span, error, 'recovery pass failed; retrying next interval');
    }
    if (seen.length > 0) ctx.logger.info({ handled: seen.length }, 'recovery pass done');
    return seen.length;
  }

  /** Stops scheduling and waits for the pass in progress (bounded by the saga's own limits). */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }
}
