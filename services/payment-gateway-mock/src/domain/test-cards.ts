// Deterministic test cards, in the spirit of the big providers' test cards.
// Every number passes Luhn, so it gets past a client's own card checks and
// the behaviour comes from the gateway. Any other valid number succeeds.

export type TestCardBehaviour =
  | { kind: 'succeed' }
  | { kind: 'decline'; declineCode: string }
  /** Never answers and never charges: the caller's deadline always wins. */
  | { kind: 'timeout' }
  /** Refuses to process (503, nothing charged), every time. */
  | { kind: 'processing_error' }
  /** Charges, then the answer is lost (connection dropped). A retry with the same key returns the charge. */
  | { kind: 'charge_then_fail' }
  /** Charges, then answers only after the caller's deadline. A retry with the same key returns the charge. */
  | { kind: 'charge_then_timeout' }
  /** Never answers; the charge lands only later (PAYMENT_GATEWAY_MOCK_LATE_CHARGE_DELAY_MS), after the caller gave up. */
  | { kind: 'charge_late' }
  /** Charges normally; every refund of the charge is refused (422 refund_declined). */
  | { kind: 'refund_declined' }
  /** Charges normally; every refund never answers and refunds nothing (the caller looks it up: not found). */
  | { kind: 'refund_timeout' }
  /** Charges normally; every refund is made, then answered only after the caller's deadline (a lookup finds it). */
  | { kind: 'refund_answer_lost' };

export interface TestCard {
  number: string;
  brand: string;
  behaviour: TestCardBehaviour;
  description: string;
}

export const TEST_CARDS: readonly TestCard[] = [
  { number: '4242424242424242', brand: 'visa', behaviour: { kind: 'succeed' }, description: 'always succeeds' },
  { number: '5555555555554444', brand: 'mastercard', behaviour: { kind: 'succeed' }, description: 'always succeeds' },
  { number: '2223003122003222', brand: 'mastercard', behaviour: { kind: 'succeed' }, description: 'always succeeds (2-series BIN)' },
  { number: '378282246310005', brand: 'amex', behaviour: { kind: 'succeed' }, description: 'always succeeds' },
  { number: '6011111111111117', brand: 'discover', behaviour: { kind: 'succeed' }, description: 'always succeeds' },
  { number: '4000000000000002', brand: 'visa', behaviour: { kind: 'decline', declineCode: 'generic_decline' }, description: 'declined: generic_decline' },
  {
    number: '4000000000009995',
    brand: 'visa',
    behaviour: { kind: 'decline', declineCode: 'insufficient_funds' },
    description: 'declined: insufficient_funds',
  },
  { number: '4000000000009987', brand: 'visa', behaviour: { kind: 'decline', declineCode: 'lost_card' }, description: 'declined: lost_card' },
  {
    number: '4000000000000069',
    brand: 'visa',
    behaviour: { kind: 'decline', declineCode: 'expired_card' },
    description: 'declined by the issuer: expired_card',
  },
  { number: '4000000000000119', brand: 'visa', behaviour: { kind: 'processing_error' }, description: 'processing error every time (503, nothing charged)' },
  { number: '4000000000001018', brand: 'visa', behaviour: { kind: 'timeout' }, description: 'never answers within the deadline; nothing is charged' },
  { number: '4000000000001505', brand: 'visa', behaviour: { kind: 'charge_then_fail' }, description: 'charges, then the connection drops before the answer' },
  { number: '4000000000003402', brand: 'visa', behaviour: { kind: 'charge_then_timeout' }, description: 'charges, then answers only after the deadline' },
  {
    number: '4000000000007726',
    brand: 'visa',
    behaviour: { kind: 'charge_late' },
    description: 'never answers; the charge lands later, after the caller gave up',
  },
  { number: '4000000000005126', brand: 'visa', behaviour: { kind: 'refund_declined' }, description: 'charges; every refund is refused (refund_declined)' },
  { number: '4000000000006272', brand: 'visa', behaviour: { kind: 'refund_timeout' }, description: 'charges; every refund never answers and refunds nothing' },
  {
    number: '4000000000006280',
    brand: 'visa',
    behaviour: { kind: 'refund_answer_lost' },
    description: 'charges; every refund is made, then answered after the caller gave up',
  },
];

const BY_NUMBER = new Map(TEST_CARDS.map((card) => [card.number, card]));

export function testCardBehaviour(digits: string): TestCardBehaviour {
  return BY_NUMBER.get(digits)?.behaviour ?? { kind: 'succeed' };
}
