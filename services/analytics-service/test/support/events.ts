// Builders of contract-valid events (checked against the JSON Schemas by the
// tests that produce them) and of deliberately broken ones.
import { randomUUID } from 'node:crypto';
import type { HoldEvent, RefundEvent, ReversalEvent, TopUpEvent, TransferEvent } from '@wallet/contracts';

export function transferPair(input: {
  from: string;
  to: string;
  amount: string;
  occurredAt: string;
  transferId?: string;
  description?: string;
  initiatedBy?: string;
}): [TransferEvent, TransferEvent] {
  const transferId = input.transferId ?? randomUUID();
  const initiatedBy = input.initiatedBy === undefined ? {} : { initiatedBy: input.initiatedBy };
  const common = { schemaVersion: 1 as const, occurredAt: input.occurredAt, transferId, amount: input.amount, currency: 'USD', ...initiatedBy };
  const description = input.description === undefined ? {} : { description: input.description };
  return [
    { ...common, ...description, eventId: randomUUID(), eventType: 'transfer_out', accountId: input.from, counterpartyAccountId: input.to },
    { ...common, ...description, eventId: randomUUID(), eventType: 'transfer_in', accountId: input.to, counterpartyAccountId: input.from },
  ];
}

export function transferEvent(input: { accountId: string; type?: 'transfer_in' | 'transfer_out'; amount?: string; occurredAt: string; counterpartyAccountId?: string }): TransferEvent {
  return {
    eventId: randomUUID(),
    eventType: input.type ?? 'transfer_in',
    schemaVersion: 1,
    occurredAt: input.occurredAt,
    accountId: input.accountId,
    counterpartyAccountId: input.counterpartyAccountId ?? randomUUID(),
    transferId: randomUUID(),
    amount: input.amount ?? '1.00',
    currency: 'USD',
  };
}

export function topUpEvent(input: { accountId: string; amount: string; occurredAt: string; initiatedBy?: string }): TopUpEvent {
  return {
    ...(input.initiatedBy === undefined ? {} : { initiatedBy: input.initiatedBy }),
    eventId: randomUUID(),
    eventType: 'topup',
    schemaVersion: 1,
    occurredAt: input.occurredAt,
    accountId: input.accountId,
    topUpId: randomUUID(),
    depositId: randomUUID(),
    amount: input.amount,
    currency: 'USD',
    cardLast4: '4242',
    cardBrand: 'visa',
  };
}

export function holdEvent(input: {
  accountId: string;
  type: HoldEvent['eventType'];
  occurredAt: string;
  amount?: string;
  holdId?: string;
  direction?: 'out' | 'in';
  counterpartyAccountId?: string;
  transferId?: string;
}): HoldEvent {
  return {
    eventId: randomUUID(),
    eventType: input.type,
    schemaVersion: 1,
    occurredAt: input.occurredAt,
    accountId: input.accountId,
    counterpartyAccountId: input.counterpartyAccountId ?? randomUUID(),
    direction: input.direction ?? 'out',
    holdId: input.holdId ?? randomUUID(),
    amount: input.amount ?? '1.00',
    currency: 'USD',
    ...(input.type === 'hold_created' ? { expiresAt: '2030-01-01T00:00:00.000Z', description: 'deposit for the bike' } : {}),
    ...(input.transferId === undefined ? {} : { transferId: input.transferId }),
  };
}

export function reversalEvent(input: {
  accountId: string;
  type: ReversalEvent['eventType'];
  occurredAt: string;
  amount?: string;
  reversalId?: string;
  originalTransferId?: string;
  counterpartyAccountId?: string;
  forced?: boolean;
}): ReversalEvent {
  return {
    eventId: randomUUID(),
    eventType: input.type,
    schemaVersion: 1,
    occurredAt: input.occurredAt,
    accountId: input.accountId,
    counterpartyAccountId: input.counterpartyAccountId ?? randomUUID(),
    reversalId: input.reversalId ?? randomUUID(),
    originalTransferId: input.originalTransferId ?? randomUUID(),
    amount: input.amount ?? '1.00',
    currency: 'USD',
    reason: 'sent twice by mistake',
    forced: input.forced ?? false,
    initiatedBy: 'admin-1',
  };
}

export function refundEvent(input: { accountId: string; type: RefundEvent['eventType']; occurredAt: string; amount?: string; refundId?: string; topUpId?: string; initiatedBy?: string }): RefundEvent {
  return {
    ...(input.initiatedBy === undefined ? {} : { initiatedBy: input.initiatedBy }),
    eventId: randomUUID(),
    eventType: input.type,
    schemaVersion: 1,
    occurredAt: input.occurredAt,
    accountId: input.accountId,
    refundId: input.refundId ?? randomUUID(),
    topUpId: input.topUpId ?? randomUUID(),
    depositId: randomUUID(),
    amount: input.amount ?? '1.00',
    currency: 'USD',
  };
}

/** ISO timestamp `offsetMs` after a fixed base, with microseconds, as the bank emits them. */
export function at(baseIso: string, offsetMs: number, micros = 0): string {
  const iso = new Date(Date.parse(baseIso) + offsetMs).toISOString();
  return `${iso.slice(0, 23)}${String(micros).padStart(3, '0')}Z`;
}
