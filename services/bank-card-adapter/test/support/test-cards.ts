// The payment gateway mock's test cards the adapter's tests use (the mock's
// README lists them all; a test of another service never imports its src).
export const CARDS = {
  visa: '4242424242424242',
  mastercard: '5555555555554444',
  mastercard2Series: '2223003122003222',
  amex: '378282246310005',
  discover: '6011111111111117',
  declined: '4000000000000002',
  insufficientFunds: '4000000000009995',
  lostCard: '4000000000009987',
  expiredCard: '4000000000000069',
  processingError: '4000000000000119',
  timeout: '4000000000001018',
  chargeThenDrop: '4000000000001505',
  chargeThenLate: '4000000000003402',
  chargeLandsLate: '4000000000007726',
  refundDeclined: '4000000000005126',
} as const;

export const SUCCESS_CARDS: readonly (readonly [string, string])[] = [
  [CARDS.visa, 'visa'],
  [CARDS.mastercard, 'mastercard'],
  [CARDS.mastercard2Series, 'mastercard'],
  [CARDS.amex, 'amex'],
  [CARDS.discover, 'discover'],
];

export const ALL_CARD_NUMBERS: readonly string[] = Object.values(CARDS);
