// An operation is one event on wallet.operations as the history stores it:
// amounts in exact minor units, time in exact microseconds, ids lowercased.
import type { HoldEvent, OperationEvent, RefundEvent, ReversalEvent } from '@wallet/contracts';
import { parseAmountMinor } from '@wallet/platform';
import { parseTimestampMicros } from './time.js';

export const OPERATION_TYPES = [
  'transfer_in',
  'transfer_out',
  'topup',
  'hold_created',
  'hold_captured',
  'hold_voided',
  'hold_expired',
  'reversal_out',
  'reversal_in',
  'refund',
  'refund_cancelled',
] as const;
export type OperationTypeName = (typeof OPERATION_TYPES)[number];

/** Posted money received by the account (the "in" column of a summary and of the cross-check). */
export const POSTED_IN_TYPES = ['transfer_in', 'topup', 'reversal_in', 'refund_cancelled'] as const satisfies readonly OperationTypeName[];
/** Posted money that left the account. Holds are in neither list: they move no posted money. */
export const POSTED_OUT_TYPES = ['transfer_out', 'reversal_out', 'refund'] as const satisfies readonly OperationTypeName[];

/** Money received by the account (the "in" column of a summary). */
export function isIncoming(type: OperationTypeName): boolean {
  return (POSTED_IN_TYPES as readonly string[]).includes(type);
}

/** Money that left the account. */
export function isOutgoing(type: OperationTypeName): boolean {
  return (POSTED_OUT_TYPES as readonly string[]).includes(type);
}

export interface OperationRow {
  eventId: string;
  accountId: string;
  type: OperationTypeName;
  createdAtMicros: bigint;
  amountMinor: bigint;
  currency: string;
  /** Empty string when the event has none (top-ups, refunds). */
  counterpartyAccountId: string;
  /** Transfers; hold_captured: the transfer that posted the hold. */
  transferId: string;
  /** Top-ups and refunds (the refunded top-up). */
  topUpId: string;
  depositId: string;
  /** Transfers and holds: the description; reversals: the reason. */
  description: string;
  cardLast4: string;
  cardBrand: string;
  /** Subject of whoever made the movement; empty for events written before identity existed. */
  initiatedBy: string;
  holdId: string;
  /** Holds: 'out' for the sender's side, 'in' for the recipient's; '' otherwise. */
  direction: '' | 'in' | 'out';
  reversalId: string;
  originalTransferId: string;
  /** Reversals an admin forced past the recipient's balance. */
  forced: boolean;
  refundId: string;
}

const EMPTY_LINKS = {
  counterpartyAccountId: '',
  transferId: '',
  topUpId: '',
  depositId: '',
  description: '',
  cardLast4: '',
  cardBrand: '',
  holdId: '',
  direction: '',
  reversalId: '',
  originalTransferId: '',
  forced: false,
  refundId: '',
} as const;

/**
 * Maps a schema-valid event to its stored row. Throws only if the event breaks
 * the schema's own guarantees (the consumer validates before calling this).
 */
export function eventToRow(event: OperationEvent): OperationRow {
  const base = {
    ...EMPTY_LINKS,
    eventId: event.eventId.toLowerCase(),
    accountId: event.accountId.toLowerCase(),
    createdAtMicros: parseTimestampMicros(event.occurredAt),
    amountMinor: parseAmountMinor(event.amount),
    currency: event.currency,
    initiatedBy: event.initiatedBy ?? '',
  };
  switch (event.eventType) {
    case 'topup':
      return { ...base, type: 'topup', topUpId: event.topUpId.toLowerCase(), depositId: event.depositId.toLowerCase(), cardLast4: event.cardLast4, cardBrand: event.cardBrand ?? '' };
    case 'transfer_in':
    case 'transfer_out':
      return {
        ...base,
        type: event.eventType,
        counterpartyAccountId: event.counterpartyAccountId.toLowerCase(),
        transferId: event.transferId.toLowerCase(),
        description: event.description ?? '',
      };
    case 'hold_created':
    case 'hold_captured':
    case 'hold_voided':
    case 'hold_expired':
      return holdRow(base, event);
    case 'reversal_out':
    case 'reversal_in':
      return reversalRow(base, event);
    case 'refund':
    case 'refund_cancelled':
      return refundRow(base, event);
  }
}

type RowBase = Omit<OperationRow, 'type'>;

function holdRow(base: RowBase, event: HoldEvent): OperationRow {
  return {
    ...base,
    type: event.eventType,
    counterpartyAccountId: event.counterpartyAccountId.toLowerCase(),
    holdId: event.holdId.toLowerCase(),
    direction: event.direction,
    transferId: event.transferId?.toLowerCase() ?? '',
    description: event.description ?? '',
  };
}

function reversalRow(base: RowBase, event: ReversalEvent): OperationRow {
  return {
    ...base,
    type: event.eventType,
    counterpartyAccountId: event.counterpartyAccountId.toLowerCase(),
    reversalId: event.reversalId.toLowerCase(),
    originalTransferId: event.originalTransferId.toLowerCase(),
    description: event.reason,
    forced: event.forced,
  };
}

function refundRow(base: RowBase, event: RefundEvent): OperationRow {
  return {
    ...base,
    type: event.eventType,
    refundId: event.refundId.toLowerCase(),
    topUpId: event.topUpId.toLowerCase(),
    depositId: event.depositId.toLowerCase(),
  };
}

/**
 * Drops repeated event ids within one batch (a redelivery can land in the same
 * batch as the original). Returns the unique rows, first occurrence kept.
 */
export function dedupeByEventId<T extends { eventId: string }>(rows: readonly T[]): { unique: T[]; duplicates: number } {
  const seen = new Set<string>();
  const unique: T[] = [];
  for (const row of rows) {
    if (seen.has(row.eventId)) continue;
    seen.add(row.eventId);
    unique.push(row);
  }
  return { unique, duplicates: rows.length - unique.length };
}
