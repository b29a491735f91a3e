// The refund phase: refund the charge (idempotent by key). A refusal is
// final: the top-up ends REFUND_FAILED, counted and surfaced for an operator,
// instead of pending forever.

import { GATEWAY_CIRCUIT_OPEN } from '../clients/breakers.js';
import { asGatewayError } from '../clients/payment-gateway/types.js';
import { LeaseLostError } from '../db/top-ups.js';
import { decideAfterRefundFailure, leaseMs, waitDelayMs } from '../domain/saga.js';
import { refundIdempotencyKey, type TopUpRecord } from '../domain/top-up.js';
import { pause } from './charge-step.js';
import { Pending, type Run, type SagaContext } from './saga.js';

export async function refundStep(ctx: SagaContext, run: Run): Promise<TopUpRecord | Pending> {
  const { repository: repo, settings: s } = ctx;
  for (let attempt = 1; attempt <= s.refundAttemptsMax; attempt += 1) {
    run.record = await repo.update(run.record, run.token, { refundAttempts: run.record.refundAttempts + 1 }, leaseMs(s.gatewayTimeoutMs, s.leaseMarginMs));
    try {
      const refund = await ctx.gateway.refund({ chargeId: run.record.chargeId as string, idempotencyKey: refundIdempotencyKey(run.record.id) });
      ctx.metrics.gatewayCalls.inc({ operation: 'refund', result: 'succeeded' });
      run.log.info({ refundId: refund.refundId }, 'charge refunded');
      return await repo.transition(run.record, run.token, 'REFUNDED', { refundId: refund.refundId }, 0, { refundId: refund.refundId });
    } catch (error) {
      if (error instanceof LeaseLostError) throw error;
      const failure = asGatewayError(error);
      ctx.metrics.gatewayCalls.inc({ operation: 'refund', result: failure.kind });
      const retryPointless = failure.code === GATEWAY_CIRCUIT_OPEN;
      const decision = decideAfterRefundFailure({ kind: failure.kind, attemptsDone: attempt, attemptsMax: s.refundAttemptsMax, retryPointless });
      if (decision.action === 'give_up') {
        ctx.metrics.refundsFailed.inc({ code: failure.code });
        run.log.error({ code: failure.code, chargeId: run.record.chargeId }, 'the gateway refused the refund; the card stays charged: manual action needed');
        const patch = { failureReason: 'REFUND_FAILED', failureMessage: `the gateway refused the refund (${failure.code})` };
        return repo.transition(run.record, run.token, 'REFUND_FAILED', patch, 0, { gatewayError: failure.code });
      }
      if (decision.action === 'leave_pending') {
        const waitMs = waitDelayMs(run.record.waitRounds, s.waitDelayMsMin, s.waitDelayMsMax);
        run.log.error({ kind: failure.kind, code: failure.code, waitMs }, 'refund failed; the recovery loop will retry it');
        return new Pending(run.record, waitMs);
      }
      run.log.warn({ attempt, kind: failure.kind, code: failure.code }, 'refund attempt failed');
      await pause(ctx, run, attempt);
    }
  }
  return new Pending(run.record, waitDelayMs(run.record.waitRounds, s.waitDelayMsMin, s.waitDelayMsMax));
}
