// The refund-to-card saga's state machine and decisions (ADR 0018). Pure:
// the use case in app/refund-top-up.ts executes them. Every transition is
// persisted before the side effect it guards, so after a crash the state
// says what may have happened and what must happen next:
//
//   DEBITING --> DEBITED --> SUCCEEDED
//      |            |
//      v            v
//    FAILED <--- CANCELLING
//
// DEBITING   the wallet debit (bank RefundDeposit, reference = refund id) may be in flight.
// DEBITED    the bank confirmed the debit; the card refund (key refundCardKey) may be in flight.
// CANCELLING the gateway refused the card refund for good; the debit is credited back (CancelRefund).
// SUCCEEDED  and FAILED are final; only SUCCEEDED moved money to the card.

import type { DepositFailureClass, GatewayFailureKind } from './saga.js';

export const REFUND_STATES = ['DEBITING', 'DEBITED', 'CANCELLING', 'SUCCEEDED', 'FAILED'] as const;
export type RefundState = (typeof REFUND_STATES)[number];

const TRANSITIONS: Record<RefundState, readonly RefundState[]> = {
  DEBITING: ['DEBITED', 'FAILED'],
  DEBITED: ['SUCCEEDED', 'CANCELLING'],
  CANCELLING: ['FAILED'],
  SUCCEEDED: [],
  FAILED: [],
};

export const UNFINISHED_REFUND_STATES: readonly RefundState[] = ['DEBITING', 'DEBITED', 'CANCELLING'];

export function isRefundState(value: string): value is RefundState {
  return (REFUND_STATES as readonly string[]).includes(value);
}

export function canRefundTransition(from: RefundState, to: RefundState): boolean {
  return TRANSITIONS[from].includes(to);
}

export function isRefundFinished(state: RefundState): boolean {
  return state === 'SUCCEEDED' || state === 'FAILED';
}

/** The refund's idempotency key at the payment gateway (its id is the bank's refund reference). */
export function refundCardKey(refundId: string): string {
  return `topup-refund-${refundId}`;
}

/** The journal row as the domain sees it. */
export interface RefundRecord {
  id: string;
  topUpId: string;
  accountId: string;
  idempotencyKey: string;
  requestHash: string;
  amountMinor: bigint;
  currency: string;
  initiatedBy: string;
  state: RefundState;
  failureReason: string | null;
  failureMessage: string | null;
  gatewayRefundId: string | null;
  debitAttempts: number;
  cardAttempts: number;
  waitRounds: number;
  createdAt: Date;
  updatedAt: Date;
}

/** What the client sees: succeeded, pending (not finished yet) or failed. */
export type RefundStatus = 'succeeded' | 'pending' | 'failed';

export function refundStatus(state: RefundState): RefundStatus {
  if (state === 'SUCCEEDED') return 'succeeded';
  return state === 'FAILED' ? 'failed' : 'pending';
}

/**
 * The amount to refund: the one asked for, or everything not refunded yet
 * (the top-up minus this adapter's refunds that did not fail). The bank is
 * the authority and refuses more than the deposit (REFUND_EXCEEDS_DEPOSIT).
 */
export function refundAmount(input: { requestedMinor: bigint | undefined; topUpMinor: bigint; refundedMinor: bigint }): { ok: true; amountMinor: bigint } | { ok: false; remainingMinor: bigint } {
  const remainingMinor = input.topUpMinor - input.refundedMinor;
  const amountMinor = input.requestedMinor ?? remainingMinor;
  if (amountMinor <= 0n || amountMinor > remainingMinor) return { ok: false, remainingMinor: remainingMinor > 0n ? remainingMinor : 0n };
  return { ok: true, amountMinor };
}

// ---------------------------------------------------------------- debit

export type DebitDecision = { action: 'retry' } | { action: 'fail' } | { action: 'look_up' };

/**
 * After a RefundDeposit attempt failed: a definitive refusal from the bank
 * (its domain, a business code) proves nothing was debited; everything else
 * may hide a debit, so it is retried (the reference makes that safe) and then
 * looked up, never guessed.
 */
export function decideAfterDebitFailure(input: { failure: DepositFailureClass; attemptsDone: number; attemptsMax: number }): DebitDecision {
  if (input.failure === 'rejected') return { action: 'fail' };
  if (input.failure === 'retryable' && input.attemptsDone < input.attemptsMax) return { action: 'retry' };
  return { action: 'look_up' };
}

/** What the bank says about the refund reference (GetRefund with void_if_absent), or that it could not be asked. */
export type DebitLookup = { status: 'debited' } | { status: 'cancelled' } | { status: 'voided' } | { status: 'not_found' } | { status: 'unreachable' };

export type DebitResolution = { action: 'debited' } | { action: 'fail'; reason: string } | { action: 'wait' };

/** VOIDED is the bank's proof that the reference never debits; a debit found goes on to the card. */
export function resolveUnknownDebit(lookup: DebitLookup): DebitResolution {
  switch (lookup.status) {
    case 'debited':
      return { action: 'debited' };
    case 'cancelled':
      return { action: 'fail', reason: 'CARD_REFUND_DECLINED' };
    case 'voided':
      return { action: 'fail', reason: 'REFUND_NOT_APPLIED' };
    default:
      return { action: 'wait' };
  }
}

// ---------------------------------------------------------------- card refund

export type CardRefundDecision = { action: 'retry' } | { action: 'look_up' } | { action: 'wait' };

/**
 * After a card refund attempt failed. A refusal is looked up first (an earlier
 * attempt with the same key may have refunded), and only a refusal with no
 * refund at the gateway cancels the debit. Ambiguous failures are looked up;
 * "not processed" is retried while attempts last; then the refund waits for
 * the recovery loop (the key makes every resend safe).
 */
export function decideAfterCardRefundFailure(input: { kind: GatewayFailureKind; attemptsDone: number; attemptsMax: number; retryPointless: boolean }): CardRefundDecision {
  if (input.kind === 'rejected' || input.kind === 'unknown' || input.kind === 'timeout') return { action: 'look_up' };
  return input.attemptsDone < input.attemptsMax && !input.retryPointless ? { action: 'retry' } : { action: 'wait' };
}

export type CardRefundLookup = { found: true; refundId: string } | { found: false } | { found: 'unknown' };

export type CardRefundResolution = { action: 'succeeded'; refundId: string } | { action: 'cancel' } | { action: 'retry' } | { action: 'wait' };

/** Settles a card refund from the gateway's record of its key; only a refusal with no record cancels the debit. */
export function resolveCardRefund(input: { lookup: CardRefundLookup; refused: boolean; attemptsDone: number; attemptsMax: number }): CardRefundResolution {
  if (input.lookup.found === true) return { action: 'succeeded', refundId: input.lookup.refundId };
  if (input.lookup.found === 'unknown') return { action: 'wait' };
  if (input.refused) return { action: 'cancel' };
  return input.attemptsDone < input.attemptsMax ? { action: 'retry' } : { action: 'wait' };
}
