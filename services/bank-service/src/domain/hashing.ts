import { createHash } from 'node:crypto';

// A request hash identifies "the same request" for idempotency: the same key
// with the same hash is a replay, with a different hash a misuse. The input is
// a JSON array of the normalised fields, so no field can bleed into another.

function sha256Hex(parts: readonly string[]): string {
  return createHash('sha256').update(JSON.stringify(parts)).digest('hex');
}

export interface TransferHashInput {
  senderAccountId: string;
  recipientAccountId: string;
  amountMinor: bigint;
  currency: string;
  description: string;
}

export function transferRequestHash(input: TransferHashInput): string {
  return sha256Hex([
    'transfer.v1',
    input.senderAccountId,
    input.recipientAccountId,
    input.amountMinor.toString(),
    input.currency,
    input.description,
  ]);
}

export interface DepositHashInput {
  accountId: string;
  amountMinor: bigint;
  currency: string;
  topUpId: string;
  cardLast4: string;
  cardBrand: string;
}

export function depositRequestHash(input: DepositHashInput): string {
  return sha256Hex([
    'deposit.v1',
    input.accountId,
    input.amountMinor.toString(),
    input.currency,
    input.topUpId,
    input.cardLast4,
    input.cardBrand,
  ]);
}

/**
 * A signed 64-bit key for pg_advisory_xact_lock, from sha256 of the scope and
 * parts. 64 bits make an accidental collision (a false "in flight") negligible.
 */
export function advisoryLockKey(scope: string, ...parts: string[]): bigint {
  const digest = createHash('sha256').update(JSON.stringify([scope, ...parts])).digest();
  return digest.readBigInt64BE(0);
}

export function transferLockKey(senderAccountId: string, idempotencyKey: string): bigint {
  return advisoryLockKey('bank.transfer', senderAccountId, idempotencyKey);
}

export function depositLockKey(depositReference: string): bigint {
  return advisoryLockKey('bank.deposit', depositReference);
}

/** CreateAccount: the same (owner, key) with the same currency is a replay. */
export function accountOpeningRequestHash(input: { ownerId: string; currency: string }): string {
  return sha256Hex(['account.v1', input.ownerId, input.currency]);
}

export function accountOpeningLockKey(ownerId: string, idempotencyKey: string): bigint {
  return advisoryLockKey('bank.account_opening', ownerId, idempotencyKey);
}
