// An operation is one event on wallet.operations as the history stores it:
// amounts in exact minor units, time in exact microseconds, ids lowercased.
import type { TopUpEvent, TransferEvent } from '@wallet/contracts';

// TODO(#15 analytics): hold, reversal and refund events.
type OperationEvent = TransferEvent | TopUpEvent;
import { parseAmountMinor } from '@wallet/platform';
import { parseTimestampMicros } from './time.js';

export const OPERATION_TYPES = ['transfer_in', 'transfer_out', 'topup'] as const;
export type OperationTypeName = (typeof OPERATION_TYPES)[number];

/** Money received by the account (the "in" column of a summary). */
export function isIncoming(type: OperationTypeName): boolean {
  return type === 'transfer_in' || type === 'topup';
}

export interface OperationRow {
  eventId: string;
  accountId: string;
  type: OperationTypeName;
  createdAtMicros: bigint;
  amountMinor: bigint;
  currency: string;
  /** Empty string when the event has none (top-ups). */
  counterpartyAccountId: string;
  transferId: string;
  topUpId: string;
  depositId: string;
  description: string;
  cardLast4: string;
  cardBrand: string;
  /** Subject of whoever made the movement; empty for events written before identity existed. */
  initiatedBy: string;
}

/**
 * Maps a schema-valid event to its stored row. Throws only if the event breaks
 * the schema's own guarantees (the consumer validates before calling this).
 */
export function eventToRow(event: OperationEvent): OperationRow {
  const base = {
    eventId: event.eventId.toLowerCase(),
    accountId: event.accountId.toLowerCase(),
    createdAtMicros: parseTimestampMicros(event.occurredAt),
    amountMinor: parseAmountMinor(event.amount),
    currency: event.currency,
    initiatedBy: event.initiatedBy ?? '',
  };
  if (event.eventType === 'topup') {
    return {
      ...base,
      type: 'topup',
      counterpartyAccountId: '',
      transferId: '',
      topUpId: event.topUpId.toLowerCase(),
      depositId: event.depositId.toLowerCase(),
      description: '',
      cardLast4: event.cardLast4,
      cardBrand: event.cardBrand ?? '',
    };
  }
  return {
    ...base,
    type: event.eventType,
    counterpartyAccountId: event.counterpartyAccountId.toLowerCase(),
    transferId: event.transferId.toLowerCase(),
    topUpId: '',
    depositId: '',
    description: event.description ?? '',
    cardLast4: '',
    cardBrand: '',
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
