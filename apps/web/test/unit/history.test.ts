import { describe, expect, it } from 'vitest';
import { monthStart, operationsQuery } from '../../src/lib/queries';

describe('history queries', () => {
  it('sends type, an inclusive day range as [from 00:00Z, day after to 00:00Z) and the cursor', () => {
    const query = new URLSearchParams(operationsQuery({ type: 'topup', from: '2026-11-01', to: '2026-11-30' }, 'abc'));
    expect(Object.fromEntries(query)).toEqual({ limit: '20', type: 'topup', from: '2026-11-01T00:00:00Z', to: '2026-12-01T00:00:00.000Z', cursor: 'abc' });
    expect(operationsQuery({ type: '', from: '', to: '' }, undefined)).toBe('limit=20');
  });

  it('asks the summary for whole months in UTC', () => {
    const now = new Date('2026-12-02T09:00:00Z');
    expect(monthStart(now, -11).toISOString()).toBe('2026-01-01T00:00:00.000Z');
    expect(monthStart(now, 1).toISOString()).toBe('2027-01-01T00:00:00.000Z');
  });
});
