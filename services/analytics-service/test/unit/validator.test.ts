import { describe, expect, it } from 'vitest';
import { createEventValidator, EVENT_BYTES_MAX } from '../../src/consumer/validator.js';
import { holdEvent, refundEvent, reversalEvent, topUpEvent, transferEvent } from '../support/events.js';

const validator = createEventValidator();
const accountId = '123e4567-e89b-12d3-a456-426614174000';
const json = (value: unknown) => Buffer.from(JSON.stringify(value));

describe('event validator (JSON Schemas from the contract)', () => {
  it('accepts contract-valid transfer and top-up events', () => {
    const transfer = transferEvent({ accountId, occurredAt: '2025-01-01T00:00:00.123456Z', amount: '10.50' });
    const topUp = topUpEvent({ accountId, amount: '0.01', occurredAt: '2025-01-01T00:00:00Z' });
    expect(validator.validate(json(transfer))).toEqual({ ok: true, event: transfer });
    expect(validator.validate(json(topUp))).toEqual({ ok: true, event: topUp });
  });

  it.each([
    ['a float amount', { amount: 10.5 }],
    ['an amount with three decimals', { amount: '1.005' }],
    ['a negative amount', { amount: '-1.00' }],
    ['a non-UUID account', { accountId: 'acc-1' }],
    ['an unknown field', { extra: true }],
    ['a bad timestamp', { occurredAt: 'yesterday' }],
    ['another schema version', { schemaVersion: 2 }],
  ])('rejects a transfer with %s as schema_invalid, naming the path', (_name, patch) => {
    const result = validator.validate(json({ ...transferEvent({ accountId, occurredAt: '2025-01-01T00:00:00Z' }), ...patch }));
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.reason).toBe('schema_invalid');
      expect(result.detail.length).toBeGreaterThan(0);
    }
  });

  it('accepts initiatedBy on both event types, and events without it (written before identity existed)', () => {
    const transfer = { ...transferEvent({ accountId, occurredAt: '2025-01-01T00:00:00Z' }), initiatedBy: '11111111-1111-4111-8111-111111111111' };
    const topUp = { ...topUpEvent({ accountId, amount: '5.00', occurredAt: '2025-01-01T00:00:00Z' }), initiatedBy: 'back-office-client' };
    expect(validator.validate(json(transfer))).toEqual({ ok: true, event: transfer });
    expect(validator.validate(json(topUp))).toEqual({ ok: true, event: topUp });
    expect(validator.validate(json(topUpEvent({ accountId, amount: '5.00', occurredAt: '2025-01-01T00:00:00Z' })))).toMatchObject({ ok: true });
  });

  it.each([
    ['empty', ''],
    ['longer than 255 characters', 'x'.repeat(256)],
    ['not a string', 42],
  ])('rejects an initiatedBy that is %s', (_name, initiatedBy) => {
    const event = { ...transferEvent({ accountId, occurredAt: '2025-01-01T00:00:00Z' }), initiatedBy };
    expect(validator.validate(json(event))).toMatchObject({ ok: false, reason: 'schema_invalid' });
  });

  it('rejects a top-up without its card tail', () => {
    const { cardLast4: _omitted, ...event } = topUpEvent({ accountId, amount: '5.00', occurredAt: '2025-01-01T00:00:00Z' });
    expect(validator.validate(json(event))).toMatchObject({ ok: false, reason: 'schema_invalid' });
  });

  it('classifies what is not an event at all', () => {
    expect(validator.validate(undefined)).toMatchObject({ ok: false, reason: 'empty' });
    expect(validator.validate(Buffer.alloc(0))).toMatchObject({ ok: false, reason: 'empty' });
    expect(validator.validate(Buffer.from('{not json'))).toMatchObject({ ok: false, reason: 'unparsable' });
    expect(validator.validate(Buffer.alloc(EVENT_BYTES_MAX + 1, 0x20))).toMatchObject({ ok: false, reason: 'too_large' });
    expect(validator.validate(json({ eventType: 'chargeback' }))).toMatchObject({ ok: false, reason: 'unknown_event_type' });
    expect(validator.validate(json([1, 2]))).toMatchObject({ ok: false, reason: 'unknown_event_type' });
    expect(validator.validate(Buffer.from('null'))).toMatchObject({ ok: false, reason: 'unknown_event_type' });
  });

  it('never echoes payload values in the rejection detail', () => {
    const secret = '4242424242424242';
    const result = validator.validate(json({ ...topUpEvent({ accountId, amount: '5.00', occurredAt: '2025-01-01T00:00:00Z' }), cardLast4: secret }));
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.detail).not.toContain(secret);
  });

  it('accepts contract-valid hold, reversal and refund events of every type', () => {
    const occurredAt = '2025-01-01T00:00:00.123456Z';
    const events = [
      ...(['hold_created', 'hold_captured', 'hold_voided', 'hold_expired'] as const).map((type) => holdEvent({ accountId, type, occurredAt })),
      holdEvent({ accountId, type: 'hold_captured', occurredAt, transferId: '22222222-2222-4222-8222-222222222222', direction: 'in' }),
      reversalEvent({ accountId, type: 'reversal_out', occurredAt, forced: true }),
      reversalEvent({ accountId, type: 'reversal_in', occurredAt }),
      refundEvent({ accountId, type: 'refund', occurredAt }),
      refundEvent({ accountId, type: 'refund_cancelled', occurredAt, initiatedBy: 'bank-card-adapter' }),
    ];
    for (const event of events) expect(validator.validate(json(event))).toEqual({ ok: true, event });
  });

  it.each([
    ['a hold without its direction', () => { const { direction: _d, ...e } = holdEvent({ accountId, type: 'hold_created', occurredAt: '2025-01-01T00:00:00Z' }); return e; }],
    ['a hold with direction "both"', () => ({ ...holdEvent({ accountId, type: 'hold_created', occurredAt: '2025-01-01T00:00:00Z' }), direction: 'both' })],
    ['a reversal without its original transfer', () => { const { originalTransferId: _o, ...e } = reversalEvent({ accountId, type: 'reversal_in', occurredAt: '2025-01-01T00:00:00Z' }); return e; }],
    ['a reversal with an empty reason', () => ({ ...reversalEvent({ accountId, type: 'reversal_in', occurredAt: '2025-01-01T00:00:00Z' }), reason: '' })],
    ['a reversal with forced as a string', () => ({ ...reversalEvent({ accountId, type: 'reversal_in', occurredAt: '2025-01-01T00:00:00Z' }), forced: 'true' })],
    ['a refund with a float amount', () => ({ ...refundEvent({ accountId, type: 'refund', occurredAt: '2025-01-01T00:00:00Z' }), amount: 1.5 })],
    ['a refund carrying a card number field', () => ({ ...refundEvent({ accountId, type: 'refund', occurredAt: '2025-01-01T00:00:00Z' }), cardNumber: '4242424242424242' })],
  ])('rejects %s as schema_invalid', (_name, build) => {
    expect(validator.validate(json(build()))).toMatchObject({ ok: false, reason: 'schema_invalid' });
  });
});
