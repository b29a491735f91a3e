import { describe, expect, it } from 'vitest';
import { ApiError } from '../../src/lib/api';
import { declinedMessage } from '../../src/lib/declined';

const problem = (detail: string, extra: Record<string, unknown>) => ({ type: 'urn:problem:wallet:card-declined', title: 'Declined', status: 402, detail, ...extra });

describe('a declined top-up, in words', () => {
  it('keeps the API detail and adds the decline code and charge state only when the detail lacks them', () => {
    const plain = new ApiError(402, 'The card was declined', problem('The card was declined', { declineCode: 'lost_card', charged: false }));
    expect(declinedMessage(plain)).toBe('Declined: The card was declined. Reason: lost_card. Your card was not charged.');
    const full = 'the card was declined (generic_decline); nothing was charged';
    expect(declinedMessage(new ApiError(402, full, problem(full, { declineCode: 'generic_decline', charged: false })))).toBe(`Declined: ${full}.`);
    const charged = new ApiError(402, 'Refund pending', problem('Refund pending', { charged: true }));
    expect(declinedMessage(charged)).toBe('Declined: Refund pending. Your card is left charged for now; it will be refunded.');
  });
});
