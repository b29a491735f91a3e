import { createHash, createHmac } from 'node:crypto';
import type { ValidTopUp } from './validation.js';

/**
 * A keyed hash of the card number. A plain hash of a 16-digit number with a
 * known prefix and a Luhn digit is brute-forced in minutes, so the secret is
 * what keeps the number unrecoverable from the journal.
 */
export function cardFingerprint(secret: string, digits: string): string {
  return createHmac('sha256', secret).update(digits).digest('hex');
}

/**
 * What makes two requests with the same idempotency key "the same request":
 * account, amount, currency and card (by fingerprint and expiry). The CVC is
 * left out on purpose: it is never stored, not even hashed.
 */
export function topUpRequestHash(secret: string, request: ValidTopUp): string {
  const canonical = JSON.stringify([
    'topup.v1',
    request.accountId,
    request.amountMinor.toString(),
    request.currency,
    cardFingerprint(secret, request.card.digits),
    request.card.expiryMonth,
    request.card.expiryYear,
  ]);
  return createHash('sha256').update(canonical).digest('hex');
}
