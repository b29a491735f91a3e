// The top-up journal's state machine. Every transition is persisted before
// the side effect it guards, so after a crash the state says what may have
// happened and what must happen next:
//
//   RECEIVED --> CHARGING --> CHARGED --> COMPLETED
//      |            |  |         |
//      v            |  v         v
//    FAILED <-------+ DECLINED  REFUNDING --> REFUNDED
//      |                           ^    \--> REFUND_FAILED
//      +---------------------------+ (reconciliation: a charge landed after the failure)
//
// RECEIVED   validated and journaled; nothing sent to the gateway yet.
// CHARGING   a charge (same idempotency key every time) may be in flight.
// CHARGED    the gateway confirmed the charge; the deposit is next (idempotent by reference).
// REFUNDING  the deposit will not happen; the charge must be refunded (idempotent by key).
// COMPLETED, DECLINED, REFUNDED, REFUND_FAILED, FAILED are final; only COMPLETED credited money.
// REFUND_FAILED: the gateway refused the refund; the card is left charged and an operator must act.
// FAILED -> REFUNDING is taken only by reconciliation, when the gateway reports a
// charge that landed after the top-up had failed ("nothing was charged" was wrong).

import { TopUpFailure, type ChargedStatus, type FailureReason } from './failures.js';

export const TOP_UP_STATES = [
  'RECEIVED',
  'CHARGING',
  'CHARGED',
  'COMPLETED',
  'DECLINED',
  'REFUNDING',
  'REFUNDED',
  'REFUND_FAILED',
  'FAILED',
] as const;

export type TopUpState = (typeof TOP_UP_STATES)[number];

const TRANSITIONS: Record<TopUpState, readonly TopUpState[]> = {
  RECEIVED: ['CHARGING', 'FAILED'],
  CHARGING: ['CHARGED', 'DECLINED', 'FAILED'],
  CHARGED: ['COMPLETED', 'REFUNDING'],
  REFUNDING: ['REFUNDED', 'REFUND_FAILED'],
  COMPLETED: [],
  DECLINED: [],
  REFUNDED: [],
  REFUND_FAILED: [],
  FAILED: ['REFUNDING'],
};

/** Final states: nothing more happens by itself (FAILED may still be reconciled, see above). */
const FINAL_STATES: ReadonlySet<TopUpState> = new Set(['COMPLETED', 'DECLINED', 'REFUNDED', 'REFUND_FAILED', 'FAILED']);

export const UNFINISHED_STATES: readonly TopUpState[] = TOP_UP_STATES.filter((s) => !FINAL_STATES.has(s));

export class InvalidTransitionError extends Error {
  constructor(
    readonly from: TopUpState,
    readonly to: TopUpState,
  ) {
    super(`top-up cannot go from ${from} to ${to}`);
    this.name = 'InvalidTransitionError';
  }
}

export function isTopUpState(value: string): value is TopUpState {
  return (TOP_UP_STATES as readonly string[]).includes(value);
}

export function canTransition(from: TopUpState, to: TopUpState): boolean {
  return TRANSITIONS[from].includes(to);
}

export function assertTransition(from: TopUpState, to: TopUpState): void {
  if (!canTransition(from, to)) throw new InvalidTransitionError(from, to);
}

export function isTerminal(state: TopUpState): boolean {
  return FINAL_STATES.has(state);
}

/** Whether the card is charged in this state (completed: charged and credited), as far as the journal knows. */
export function chargedStatus(state: TopUpState): ChargedStatus {
  switch (state) {
    case 'CHARGING':
      return 'unknown';
    case 'COMPLETED':
    case 'CHARGED':
    case 'REFUNDING':
    case 'REFUND_FAILED':
      return 'true';
    default:
      return 'false';
  }
}

// Everything downstream is keyed by the top-up id, which is unique per
// (account, client idempotency key): a client retry finds the same top-up and
// so reuses the same charge key and deposit reference, never a second charge.
export function chargeIdempotencyKey(topUpId: string): string {
  return `topup-${topUpId}-charge`;
}

export function refundIdempotencyKey(topUpId: string): string {
  return `topup-${topUpId}-refund`;
}

export function depositReference(topUpId: string): string {
  return `topup-${topUpId}`;
}

/** The journal row as the domain sees it (no card number, no CVC: they are never stored). */
export interface TopUpRecord {
  id: string;
  accountId: string;
  idempotencyKey: string;
  requestHash: string;
  amountMinor: bigint;
  currency: string;
  cardLast4: string;
  cardBrand: string;
  /** Subject of the verified user who asked for it; null for top-ups journaled before identity existed. */
  initiatedBy: string | null;
  state: TopUpState;
  chargeId: string | null;
  declineCode: string | null;
  failureReason: FailureReason | null;
  failureMessage: string | null;
  depositId: string | null;
  depositError: string | null;
  refundId: string | null;
  chargeAttempts: number;
  depositAttempts: number;
  refundAttempts: number;
  /** Some charge attempt ended without an answer (timeout, dropped connection). */
  chargeOutcomeUnknown: boolean;
  /** Some deposit attempt ended without an answer: the deposit may exist at the bank. */
  depositOutcomeUnknown: boolean;
  /** How often the top-up was left to wait for a dependency (durable backoff exponent). */
  waitRounds: number;
  /** Reconciliation found nothing more to do for this failed top-up. */
  reconciledAt: Date | null;
  lastChargeError: string | null;
  lastChargeAttemptAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
  /** W3C traceparent of the request that journaled it (recovery spans link to it); null or absent when unknown. */
  traceContext?: string | null;
}

export type TopUpOutcome = { kind: 'completed'; record: TopUpRecord } | { kind: 'failed'; failure: TopUpFailure };

/** The decline code the gateway gave, as a contract reason. */
export function declineReason(declineCode: string | null): FailureReason {
  return declineCode === 'insufficient_funds' ? 'CARD_INSUFFICIENT_FUNDS' : 'CARD_DECLINED';
}

/**
 * What the caller is told about a top-up in its current state: the same
 * answer for the first request and every replay of it.
 */
export function outcomeOf(record: TopUpRecord, options: { replayed?: boolean } = {}): TopUpOutcome {
  const metadata: Record<string, string> = { top_up_id: record.id };
  if (options.replayed) metadata.replayed = 'true';
  switch (record.state) {
    case 'COMPLETED':
      return { kind: 'completed', record };
    case 'DECLINED': {
      if (record.declineCode) metadata.decline_code = record.declineCode;
      const reason = declineReason(record.declineCode);
      return {
        kind: 'failed',
        failure: new TopUpFailure({
          reason,
          message:
            reason === 'CARD_INSUFFICIENT_FUNDS'
              ? 'the card issuer reported insufficient funds; nothing was charged'
              : `the card was declined (${record.declineCode ?? 'unknown'}); nothing was charged`,
          charged: 'false',
          metadata,
        }),
      };
    }
    case 'REFUNDED':
      if (record.depositError) metadata.deposit_error = record.depositError;
      metadata.refunded = 'true';
      return {
        kind: 'failed',
        failure: new TopUpFailure({
          reason: 'DEPOSIT_FAILED_REFUNDED',
          message: record.depositError
            ? 'the card was charged but the deposit failed, so the charge was refunded'
            : 'the charge reached the gateway after the top-up had failed, so it was refunded',
          charged: 'false',
          metadata,
        }),
      };
    case 'REFUND_FAILED':
      if (record.depositError) metadata.deposit_error = record.depositError;
      metadata.manual_action = 'true';
      return {
        kind: 'failed',
        failure: new TopUpFailure({
          reason: 'REFUND_FAILED',
          message: 'the card was charged and the account was not credited; the gateway refused the refund, so the charge is being settled by hand',
          charged: 'true',
          metadata,
        }),
      };
    case 'FAILED':
      return {
        kind: 'failed',
        failure: new TopUpFailure({
          reason: record.failureReason ?? 'PAYMENT_GATEWAY_ERROR',
          message: record.failureMessage ?? 'the payment gateway failed; nothing was charged',
          charged: 'false',
          metadata,
        }),
      };
    default: {
      // Not finished: the recovery loop owns it now and will complete or refund it.
      metadata.state = record.state.toLowerCase();
      const charged = chargedStatus(record.state);
      metadata.charge_status = charged === 'true' ? 'charged' : charged === 'unknown' ? 'unknown' : 'not_charged';
      if (record.lastChargeError) metadata.cause = record.lastChargeError;
      return { kind: 'failed', failure: new TopUpFailure({ reason: 'TOP_UP_PENDING', message: pendingMessage(record.state), charged, metadata }) };
    }
  }
}

/** What a pending top-up's answer says: never that the card was charged when that is not known. */
function pendingMessage(state: TopUpState): string {
  switch (state) {
    case 'CHARGING':
      return 'the payment gateway has not confirmed the charge yet, so it is not known whether the card was charged; the top-up will be completed or cancelled automatically';
    case 'CHARGED':
      return 'the card was charged and the deposit is not confirmed yet; the top-up will be completed, or refunded once the bank confirms it was not credited';
    case 'REFUNDING':
      return 'the card was charged and the account was not credited; the charge is being refunded';
    default:
      return 'the top-up was received and the card has not been charged yet; it will be completed or cancelled automatically';
  }
}
