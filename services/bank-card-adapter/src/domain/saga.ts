// Saga decisions: given what just happened, what to do next. Pure, so every
// branch is unit-tested; the orchestrator (saga/processor.ts) only executes.

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
}): ChargeAttemptDecision {
  if (input.kind === 'rejected') {
    // Permanent refusals are only retried when an earlier attempt may have charged.
    if (!input.everAmbiguous) {
      return { action: 'fail', reason: 'PAYMENT_GATEWAY_ERROR', message: 'the payment gateway rejected the charge; nothing was charged' };
    }
    return { action: 'resolve_unknown' };
  }
  if (input.attemptsDone < input.maxAttempts) return { action: 'retry' };
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

/** gRPC status names, so the domain need not import grpc-js. */
export type GrpcCodeName =
  | 'OK'
  | 'CANCELLED'
  | 'UNKNOWN'
  | 'INVALID_ARGUMENT'
  | 'DEADLINE_EXCEEDED'
  | 'NOT_FOUND'
  | 'ALREADY_EXISTS'
  | 'PERMISSION_DENIED'
  | 'RESOURCE_EXHAUSTED'
  | 'FAILED_PRECONDITION'
  | 'ABORTED'
  | 'OUT_OF_RANGE'
  | 'UNIMPLEMENTED'
  | 'INTERNAL'
  | 'UNAVAILABLE'
  | 'DATA_LOSS'
  | 'UNAUTHENTICATED';

export const BANK_ERROR_DOMAIN = 'bank.wallet';

/**
 * - permanent: the bank refused this deposit for good; it was not applied.
 * - transient_not_applied: not applied this time (bank said so, or never reached); retry.
 * - transient_ambiguous: no answer; the deposit may have been applied; retry, never refund blindly.
 */
export type DepositFailureClass = 'permanent' | 'transient_not_applied' | 'transient_ambiguous';

const CONNECT_FAILURE = /No connection established|ECONNREFUSED|Name resolution failed|connect ETIMEDOUT|ENOTFOUND|EHOSTUNREACH/i;

export function classifyDepositError(error: { code: GrpcCodeName; domain?: string | undefined; message: string }): DepositFailureClass {
  const fromBank = error.domain === BANK_ERROR_DOMAIN;
  switch (error.code) {
    case 'UNAVAILABLE':
      // The bank's own UNAVAILABLE (storage down) means "not applied, retry";
      // a transport UNAVAILABLE is unambiguous only if the connection never opened.
      return fromBank || CONNECT_FAILURE.test(error.message) ? 'transient_not_applied' : 'transient_ambiguous';
    case 'ABORTED':
    case 'RESOURCE_EXHAUSTED':
      return 'transient_not_applied';
    case 'DEADLINE_EXCEEDED':
    case 'CANCELLED':
    case 'UNKNOWN':
    case 'INTERNAL':
    case 'DATA_LOSS':
    case 'OK':
      return 'transient_ambiguous';
    default:
      // INVALID_ARGUMENT, NOT_FOUND, FAILED_PRECONDITION, ALREADY_EXISTS,
      // PERMISSION_DENIED, UNAUTHENTICATED, OUT_OF_RANGE, UNIMPLEMENTED.
      return 'permanent';
  }
}

export type DepositDecision = { action: 'retry' } | { action: 'refund' } | { action: 'leave_pending' };

/**
 * After a deposit attempt failed. Refunding is the compensation, allowed only
 * when the deposit certainly does not exist: after a permanent refusal, or
 * when no attempt ever ended without an answer. Otherwise the top-up stays
 * CHARGED and the recovery loop keeps retrying the idempotent deposit until
 * the bank answers (credited once, or refused and then refunded).
 */
export function decideAfterDepositFailure(input: {
  failure: DepositFailureClass;
  attemptsDone: number;
  maxAttempts: number;
  elapsedMs: number;
  nextDelayMs: number;
  budgetMs: number;
  /** Some attempt, including this one, ended without an answer. */
  everAmbiguous: boolean;
}): DepositDecision {
  if (input.failure === 'permanent') return { action: 'refund' };
  const withinBudget = input.elapsedMs + input.nextDelayMs <= input.budgetMs;
  if (input.attemptsDone < input.maxAttempts && withinBudget) return { action: 'retry' };
  return input.everAmbiguous ? { action: 'leave_pending' } : { action: 'refund' };
}

// ---------------------------------------------------------------- refund

export type RefundDecision = { action: 'retry' } | { action: 'leave_pending' };

/** Refunds are idempotent by key, so any failure is retried; when attempts run out the recovery loop continues. */
export function decideAfterRefundFailure(input: { kind: GatewayFailureKind; attemptsDone: number; maxAttempts: number }): RefundDecision {
  if (input.kind === 'rejected') return { action: 'leave_pending' };
  return input.attemptsDone < input.maxAttempts ? { action: 'retry' } : { action: 'leave_pending' };
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
