// The top-up journal's state machine. Every transition is persisted before
// the side effect it guards, so after a crash the state says what may have
// happened and what must happen next:
//
//   RECEIVED --> CHARGING --> CHARGED --> COMPLETED
//      |            |  |         |
//      v            |  v         v
//    FAILED <-------+ DECLINED  REFUNDING --> REFUNDED
//
// RECEIVED   validated and journaled; nothing sent to the gateway yet.
// CHARGING   a charge (same idempotency key every time) may be in flight.
// CHARGED    the gateway confirmed the charge; the deposit is next (idempotent by reference).
// REFUNDING  the deposit will not happen; the charge must be refunded (idempotent by key).
// COMPLETED, DECLINED, REFUNDED, FAILED are final; only COMPLETED moved money.

import { TopUpFailure, type FailureReason } from './failures.js';

export const TOP_UP_STATES = [
  'RECEIVED',
  'CHARGING',
  'CHARGED',
  'COMPLETED',
  'DECLINED',
  'REFUNDING',
  'REFUNDED',
  'FAILED',
] as const;

export type TopUpState = (typeof TOP_UP_STATES)[number];

const TRANSITIONS: Record<TopUpState, readonly TopUpState[]> = {
  RECEIVED: ['CHARGING', 'FAILED'],
  CHARGING: ['CHARGED', 'DECLINED', 'FAILED'],
  CHARGED: ['COMPLETED', 'REFUNDING'],
  REFUNDING: ['REFUNDED'],
  COMPLETED: [],
  DECLINED: [],
  REFUNDED: [],
  FAILED: [],
};

export const UNFINISHED_STATES: readonly TopUpState[] = TOP_UP_STATES.filter((s) => TRANSITIONS[s].length > 0);

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
  return TRANSITIONS[state].length === 0;
}

/** States in which the card is, or may be, charged without the money being settled either way. */
export function mayBeCharged(state: TopUpState): boolean {
  return state === 'CHARGING' || state === 'CHARGED' || state === 'REFUNDING';
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
  lastChargeError: string | null;
  lastChargeAttemptAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
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
          charged: false,
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
          message: 'the card was charged but the deposit failed, so the charge was refunded',
          charged: false,
          metadata,
        }),
      };
    case 'FAILED':
      return {
        kind: 'failed',
        failure: new TopUpFailure({
          reason: record.failureReason ?? 'PAYMENT_GATEWAY_ERROR',
          message: record.failureMessage ?? 'the payment gateway failed; nothing was charged',
          charged: false,
          metadata,
        }),
      };
    default: {
      // Not finished: the recovery loop owns it now and will complete or refund it.
      metadata.state = record.state.toLowerCase();
      metadata.charge_status = record.state === 'RECEIVED' ? 'not_charged' : record.state === 'CHARGING' ? 'unknown' : 'charged';
      if (record.lastChargeError) metadata.cause = record.lastChargeError;
      return {
        kind: 'failed',
        failure: new TopUpFailure({
          reason: 'TOP_UP_PENDING',
          message:
            record.state === 'CHARGING'
              ? 'the payment gateway did not confirm the charge in time; the top-up will be completed or cancelled automatically'
              : 'the top-up is not finished yet; it will be completed or refunded automatically',
          charged: mayBeCharged(record.state),
          metadata,
        }),
      };
    }
  }
}
