// The pure part of the ledger's write statements: one trace context per outbox row.
import { describe, expect, it } from 'vitest';
import { InvariantViolation } from '../../src/domain/ledger.js';
import { eventTraceContexts } from '../../src/db/ledger-writes.js';

describe('eventTraceContexts', () => {
  it("gives every outbox row of a plan its own request's trace context, in event order", () => {
    const plans = [{ events: ['out', 'in'] }, { events: ['out', 'in'] }, { events: ['topup'] }];
    expect(eventTraceContexts(plans, ['tp-a', null, 'tp-c'])).toEqual(['tp-a', 'tp-a', null, null, 'tp-c']);
  });

  it('stores NULL for every row when the writer has no trace context', () => {
    expect(eventTraceContexts([{ events: ['out', 'in'] }], undefined)).toEqual([null, null]);
  });

  it('refuses a context list that does not match the plans (a row would get another request’s trace)', () => {
    expect(() => eventTraceContexts([{ events: ['out'] }, { events: ['in'] }], ['tp-a'])).toThrow(InvariantViolation);
  });
});
