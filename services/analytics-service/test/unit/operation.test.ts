import { describe, expect, it } from 'vitest';
import type { TopUpEvent, TransferEvent } from '@wallet/contracts';
import { dedupeByEventId, eventToRow, isIncoming, isOutgoing, OPERATION_TYPES } from '../../src/domain/operation.js';
import { holdEvent, refundEvent, reversalEvent } from '../support/events.js';

const transfer: TransferEvent = {
  eventId: 'AAAAAAAA-0000-4000-8000-000000000001',
  eventType: 'transfer_out',
  schemaVersion: 1,
  occurredAt: '2025-03-01T10:00:00.000123Z',
  accountId: '123E4567-E89B-12D3-A456-426614174000',
  counterpartyAccountId: '987e6543-e21b-34d3-c456-426614174999',
  transferId: 'bbbbbbbb-0000-4000-8000-000000000002',
  amount: '1234567890123.45',
  currency: 'USD',
  description: 'rent',
};

const topUp: TopUpEvent = {
  eventId: 'cccccccc-0000-4000-8000-000000000003',
  eventType: 'topup',
  schemaVersion: 1,
  occurredAt: '2025-03-01T10:00:00Z',
  accountId: '123e4567-e89b-12d3-a456-426614174000',
  topUpId: 'dddddddd-0000-4000-8000-000000000004',
  depositId: 'eeeeeeee-0000-4000-8000-000000000005',
  amount: '0.01',
  currency: 'USD',
  cardLast4: '4242',
};

describe('eventToRow', () => {
  it('maps a transfer with exact minor units, exact microseconds and lowercased ids', () => {
    expect(eventToRow(transfer)).toEqual({
      eventId: 'aaaaaaaa-0000-4000-8000-000000000001',
      accountId: '123e4567-e89b-12d3-a456-426614174000',
      type: 'transfer_out',
      createdAtMicros: BigInt(Date.UTC(2025, 2, 1, 10)) * 1000n + 123n,
      amountMinor: 123456789012345n,
      currency: 'USD',
      counterpartyAccountId: '987e6543-e21b-34d3-c456-426614174999',
      transferId: 'bbbbbbbb-0000-4000-8000-000000000002',
      topUpId: '',
      depositId: '',
      description: 'rent',
      cardLast4: '',
      cardBrand: '',
      initiatedBy: '',
      holdId: '',
      direction: '',
      reversalId: '',
      originalTransferId: '',
      forced: false,
      refundId: '',
    });
  });

  it('keeps who made the movement, and an empty initiator for events from before identity existed', () => {
    expect(eventToRow({ ...transfer, initiatedBy: '11111111-1111-4111-8111-111111111111' }).initiatedBy).toBe('11111111-1111-4111-8111-111111111111');
    expect(eventToRow({ ...topUp, initiatedBy: 'back-office-client' }).initiatedBy).toBe('back-office-client');
    expect(eventToRow(topUp).initiatedBy).toBe('');
  });

  it('maps a top-up with its card tail and no counterparty', () => {
    const row = eventToRow(topUp);
    expect(row).toMatchObject({ type: 'topup', amountMinor: 1n, topUpId: topUp.topUpId, depositId: topUp.depositId, cardLast4: '4242', cardBrand: '', counterpartyAccountId: '', transferId: '', description: '' });
    expect(eventToRow({ ...topUp, cardBrand: 'visa' }).cardBrand).toBe('visa');
  });

  it('defaults a missing description to empty', () => {
    const { description: _omitted, ...withoutDescription } = transfer;
    expect(eventToRow(withoutDescription).description).toBe('');
  });
});

describe('eventToRow for holds, reversals and refunds', () => {
  const accountId = '123e4567-e89b-12d3-a456-426614174000';
  const occurredAt = '2025-03-01T10:00:00.000001Z';

  it('keeps a hold\'s id, side and the transfer a capture posted', () => {
    const event = holdEvent({ accountId, type: 'hold_captured', occurredAt, amount: '7.50', direction: 'in', holdId: 'AAAAAAAA-0000-4000-8000-000000000009', transferId: 'BBBBBBBB-0000-4000-8000-000000000002' });
    expect(eventToRow(event)).toMatchObject({ type: 'hold_captured', amountMinor: 750n, holdId: 'aaaaaaaa-0000-4000-8000-000000000009', direction: 'in', transferId: 'bbbbbbbb-0000-4000-8000-000000000002', counterpartyAccountId: event.counterpartyAccountId, reversalId: '', refundId: '' });
    expect(eventToRow(holdEvent({ accountId, type: 'hold_created', occurredAt })).description).toBe('deposit for the bike');
  });

  it('links a reversal to the transfer it moves back, with its reason and whether it was forced', () => {
    const event = reversalEvent({ accountId, type: 'reversal_out', occurredAt, amount: '2.00', forced: true });
    expect(eventToRow(event)).toMatchObject({ type: 'reversal_out', amountMinor: 200n, reversalId: event.reversalId, originalTransferId: event.originalTransferId, description: 'sent twice by mistake', forced: true, initiatedBy: 'admin-1', transferId: '', holdId: '' });
  });

  it('links a refund to its top-up and deposit, with no counterparty', () => {
    const event = refundEvent({ accountId, type: 'refund_cancelled', occurredAt, amount: '3.00' });
    expect(eventToRow(event)).toMatchObject({ type: 'refund_cancelled', amountMinor: 300n, refundId: event.refundId, topUpId: event.topUpId, depositId: event.depositId, counterpartyAccountId: '', forced: false });
  });
});

describe('isIncoming / isOutgoing', () => {
  it('counts transfer_in and topup as money in, transfer_out as money out', () => {
    expect(isIncoming('transfer_in')).toBe(true);
    expect(isIncoming('topup')).toBe(true);
    expect(isIncoming('transfer_out')).toBe(false);
  });

  it('counts reversals and refunds as posted money and holds as neither', () => {
    expect(OPERATION_TYPES.filter(isIncoming)).toEqual(['transfer_in', 'topup', 'reversal_in', 'refund_cancelled']);
    expect(OPERATION_TYPES.filter(isOutgoing)).toEqual(['transfer_out', 'reversal_out', 'refund']);
    for (const type of ['hold_created', 'hold_captured', 'hold_voided', 'hold_expired'] as const) {
      expect(isIncoming(type) || isOutgoing(type)).toBe(false);
    }
  });
});

describe('dedupeByEventId', () => {
  it('keeps the first occurrence of each event id and counts the rest', () => {
    const rows = [{ eventId: 'a', n: 1 }, { eventId: 'b', n: 2 }, { eventId: 'a', n: 3 }, { eventId: 'a', n: 4 }];
    expect(dedupeByEventId(rows)).toEqual({ unique: [{ eventId: 'a', n: 1 }, { eventId: 'b', n: 2 }], duplicates: 2 });
    expect(dedupeByEventId([])).toEqual({ unique: [], duplicates: 0 });
  });
});
