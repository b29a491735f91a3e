// Saga decisions: given what just happened, what to do next. Pure, so every
// branch is unit-tested; the use cases in app/ only execute them.

import type { FailureReason } from './failures.js';

// ---------------------------------------------------------------- charge

/**
 * How a gateway call failed, as far as money is concerned:
 * - not_processed: the gateway certainly did nothing (connection refused, explicit "not processed").
 * - unknown: the request may have been applied (connection dropped, 5xx mid-flight).
 * - timeout: no answer within the deadline; may have been applied.
 * - rejected: the gateway refused the request for good (bad request, key conflict); nothing applied.
 */
export type GatewayFailureKind = 'not_processed' | 'unknown' | 'timeout' | 'rejected';

export function isAmbiguous(kind: GatewayFailureKind): boolean {
  return kind === 'unknown' || kind === 'timeout';
}

export type ChargeAttemptDecision =
  | { action: 'retry' }
  | { action: 'fail'; reason: FailureReason; message: string }
  | { action: 'resolve_unknown' };

/**
 * After a charge attempt failed: retry with the same idempotency key while
 * attempts remain; then either nothing was charged for sure (fail), or the
 * outcome is unknown and must be looked up / left to the recovery loop.
 */
export function decideAfterChargeFailure(input: {
  kind: GatewayFailureKind;
  attemptsDone: number;
  maxAttempts: number;
  /** Some earlier attempt (in this run or before) ended ambiguously. */
  everAmbiguous: boolean;
  /** Another attempt now would be refused too (the gateway's breaker is open): treat this one as the last. */
  retryPointless?: boolean;
}): ChargeAttemptDecision {
  if (input.kind === 'rejected') {
    // Permanent refusals are only retried when an earlier attempt may have charged.
    if (!input.everAmbiguous) {
      return { action: 'fail', reason: 'PAYMENT_GATEWAY_ERROR', message: 'the payment gateway rejected the charge; nothing was charged' };
    }
    return { action: 'resolve_unknown' };
  }
  if (input.attemptsDone < input.maxAttempts && !input.retryPointless) return { action: 'retry' };
  if (!input.everAmbiguous && !isAmbiguous(input.kind)) {
    return { action: 'fail', reason: 'PAYMENT_GATEWAY_ERROR', message: 'the payment gateway is unavailable; nothing was charged' };
  }
  return { action: 'resolve_unknown' };
}

export type ChargeLookup = { found: true; status: 'succeeded' | 'declined'; chargeId: string; declineCode?: string } | { found: false };

export type ChargeResolution =
  | { action: 'charged'; chargeId: string }
  | { action: 'declined'; chargeId: string; declineCode: string }
  | { action: 'fail'; reason: FailureReason; message: string }
  | { action: 'wait' };

/**
 * Resolves a charge whose outcome is unknown from the gateway's record of its
 * idempotency key. "No record" is trusted only once the last attempt is older
 * than its deadline plus a grace period: a request still in flight at the
 * gateway could otherwise land after we decided it never happened.
 */
export function resolveUnknownCharge(input: {
  lookup: ChargeLookup;
  lastAttemptAt: Date | null;
  lastChargeError: string | null;
  now: Date;
  gatewayTimeoutMs: number;
  graceMs: number;
}): ChargeResolution {
  const { lookup } = input;
  if (lookup.found) {
    if (lookup.status === 'succeeded') return { action: 'charged', chargeId: lookup.chargeId };
    return { action: 'declined', chargeId: lookup.chargeId, declineCode: lookup.declineCode ?? 'generic_decline' };
  }
  const settledAfterMs = input.gatewayTimeoutMs + input.graceMs;
  const sinceLastAttemptMs = input.lastAttemptAt ? input.now.getTime() - input.lastAttemptAt.getTime() : Number.POSITIVE_INFINITY;
  if (sinceLastAttemptMs < settledAfterMs) return { action: 'wait' };
  if (input.lastChargeError === 'timeout') {
    return { action: 'fail', reason: 'PAYMENT_GATEWAY_TIMEOUT', message: 'the payment gateway did not answer in time; nothing was charged' };
  }
  return { action: 'fail', reason: 'PAYMENT_GATEWAY_ERROR', message: 'the payment gateway failed; nothing was charged' };
}

// ---------------------------------------------------------------- deposit

/**
 * How a DepositMoney attempt failed, as the bank client classifies it:
 * - rejected: the bank refused this deposit for good with a business reason
 *   (ACCOUNT_NOT_FOUND, INVALID_ARGUMENT, DEPOSIT_REFERENCE_VOIDED, ...): it is
 *   not applied and never will be. Only this proves "not applied".
 * - retryable: anything else (unavailable, timeout, lost reply, reset). The
 *   deposit may or may not have been applied; retrying with the same
 *   reference is safe, refunding is not.
 * - unauthorized: the bank refused the caller (our service identity), not
 *   the deposit. That call applied nothing, but an earlier attempt may have,
 *   and repeating it with the same identity cannot succeed: no more
 *   attempts, and no refund on that guess either; the bank is asked (look_up)
 *   and, while it keeps refusing us, the top-up waits (a configuration error
 *   an operator fixes; the charge is never refunded blindly).
 * - not_sent: the request certainly never left this process (the bank's
 *   circuit breaker is open). That call applied nothing, so it does not make
 *   the outcome unknown; but an earlier attempt may have applied, so it proves
 *   nothing either: no refund. Retrying within this run is pointless while the
 *   breaker stays open, so the bank is asked (look_up, which an open breaker
 *   also refuses at once) and the top-up waits durably.
 */
export type DepositFailureClass = 'rejected' | 'retryable' | 'unauthorized' | 'not_sent';

export type DepositDecision = { action: 'retry' } | { action: 'refund' } | { action: 'look_up' };

/**
 * After a deposit attempt failed: refund only after a definitive refusal;
 * retry while attempts and the time budget last; then ask the bank what
 * became of the reference (look_up) instead of guessing.
 */
export function decideAfterDepositFailure(input: {
  failure: DepositFailureClass;
  attemptsDone: number;
  attemptsMax: number;
  elapsedMs: number;
  nextDelayMs: number;
  retryMsMax: number;
}): DepositDecision {
  if (input.failure === 'rejected') return { action: 'refund' };
  if (input.failure === 'unauthorized' || input.failure === 'not_sent') return { action: 'look_up' };
  const withinBudget = input.elapsedMs + input.nextDelayMs <= input.retryMsMax;
  if (input.attemptsDone < input.attemptsMax && withinBudget) return { action: 'retry' };
  return { action: 'look_up' };
}

/** What the bank says about a deposit reference (GetDeposit with void_if_absent), or that it could not be asked. */
export type DepositLookup =
  | { status: 'applied'; depositId: string }
  | { status: 'voided' }
  | { status: 'not_found' }
  | { status: 'unreachable' }
  /** The bank refused to answer us (our identity): as unknown as unreachable. */
  | { status: 'unauthorized' };

export type DepositResolution = { action: 'complete'; depositId: string } | { action: 'refund' } | { action: 'wait' };

/**
 * Settles a deposit whose outcome is unknown. VOIDED is the bank's proof that
 * the reference never credits the account, so only it allows the refund;
 * while the bank cannot be asked (or could not void), the top-up waits.
 */
export function resolveUnknownDeposit(lookup: DepositLookup): DepositResolution {
  switch (lookup.status) {
    case 'applied':
      return { action: 'complete', depositId: lookup.depositId };
    case 'voided':
      return { action: 'refund' };
    default:
      return { action: 'wait' };
  }
}

/**
 * Durable backoff for a top-up waiting on a dependency: the n-th wait (0-based,
 * counted in the journal) lasts min * 2^n, capped at max. No jitter needed:
 * leases already spread replicas, and the cap bounds the wait.
 */
export function waitDelayMs(waitsDone: number, delayMsMin: number, delayMsMax: number): number {
  return Math.min(delayMsMax, delayMsMin * 2 ** Math.min(Math.max(waitsDone, 0), 30));
}

// ---------------------------------------------------------------- refund

export type RefundDecision = { action: 'retry' } | { action: 'leave_pending' } | { action: 'give_up' };

/**
 * Refunds are idempotent by key, so transient failures are retried, and when
 * attempts run out the recovery loop continues. A refusal (the gateway or the
 * issuer will not refund this charge) is final: retrying cannot fix it, so
 * the top-up ends REFUND_FAILED for an operator instead of pending forever.
 */
export function decideAfterRefundFailure(input: {
  kind: GatewayFailureKind;
  attemptsDone: number;
  attemptsMax: number;
  /** Another attempt now would be refused too (the gateway's breaker is open): leave it to recovery at once. */
  retryPointless?: boolean;
}): RefundDecision {
  if (input.kind === 'rejected') return { action: 'give_up' };
  return input.attemptsDone < input.attemptsMax && !input.retryPointless ? { action: 'retry' } : { action: 'leave_pending' };
}

// ---------------------------------------------------------------- leases

/**
 * How long a worker owns a top-up before another replica may take it over:
 * the deadline of the call it is about to make plus a margin, so a call in
 * flight always ends (answered or timed out) before the lease can expire.
 */
export function leaseMs(stepTimeoutMs: number, marginMs: number): number {
  return stepTimeoutMs + marginMs;
}
