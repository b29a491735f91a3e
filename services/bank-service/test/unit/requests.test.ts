import { describe, expect, it } from 'vitest';
import { AccountNotFoundError, InvalidAmountError, InvalidArgumentError, SameAccountError } from '../../src/domain/errors.js';
import {
  checkDepositLimit,
  isStorableText,
  validateAccountId,
  validateCreateAccountRequest,
  validateDepositReference,
  validateDepositRequest,
  validateOwnerId,
  validateTransferRequest,
  type TransferMoneyInput,
} from '../../src/domain/requests.js';

const limits = { maxAmountMinor: 100_000_000n };
const USER = '11111111-1111-4111-8111-111111111111';
const valid: TransferMoneyInput = {
  senderAccountId: '123e4567-e89b-12d3-a456-426614174000',
  recipientAccountId: '987e6543-e21b-34d3-c456-426614174999',
  amount: { amountMinor: 1050n, currencyCode: 'USD' },
  idempotencyKey: 'key-1',
  description: 'rent',
};

function violationsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidArgumentError);
    return (error as InvalidArgumentError).fieldViolations.map((v) => v.field);
  }
  throw new Error('expected InvalidArgumentError');
}

describe('transfer request validation', () => {
  it('accepts a well-formed request and normalises ids to lower case', () => {
    const request = validateTransferRequest({ ...valid, senderAccountId: valid.senderAccountId.toUpperCase() }, limits, USER);
    expect(request.senderAccountId).toBe(valid.senderAccountId);
    expect(request.amountMinor).toBe(1050n);
    expect(request.currency).toBe('USD');
    expect(request.requestHash).toMatch(/^[0-9a-f]{64}$/);
  });

  it('accepts the plan seed account whose UUID has a non-RFC variant', () => {
    expect(() => validateTransferRequest(valid, limits, USER)).not.toThrow();
  });

  it('reports every malformed field at once as field violations', () => {
    const fields = violationsOf(() =>
      validateTransferRequest(
        { senderAccountId: 'nope', recipientAccountId: '', amount: { amountMinor: 1n, currencyCode: 'usd' }, idempotencyKey: '', description: 'x'.repeat(141) },
        limits,
        USER,
      ),
    );
    expect(fields).toEqual(['sender_account_id', 'recipient_account_id', 'amount.currency_code', 'idempotency_key', 'description']);
  });

  it('requires an amount', () => {
    expect(violationsOf(() => validateTransferRequest({ ...valid, amount: undefined }, limits, USER))).toEqual(['amount']);
  });

  it('accepts idempotency keys of 1 and 255 characters and rejects 256', () => {
    expect(() => validateTransferRequest({ ...valid, idempotencyKey: 'k' }, limits, USER)).not.toThrow();
    expect(() => validateTransferRequest({ ...valid, idempotencyKey: 'k'.repeat(255) }, limits, USER)).not.toThrow();
    expect(violationsOf(() => validateTransferRequest({ ...valid, idempotencyKey: 'k'.repeat(256) }, limits, USER))).toEqual(['idempotency_key']);
  });

  it('counts description length in characters, not UTF-16 units', () => {
    expect(() => validateTransferRequest({ ...valid, description: '💶'.repeat(140) }, limits, USER)).not.toThrow();
    expect(violationsOf(() => validateTransferRequest({ ...valid, description: '💶'.repeat(141) }, limits, USER))).toEqual(['description']);
  });

  it.each([0n, -1n, -100n])('rejects a non-positive amount (%s) as INVALID_AMOUNT', (amountMinor) => {
    expect(() => validateTransferRequest({ ...valid, amount: { amountMinor, currencyCode: 'USD' } }, limits, USER)).toThrow(InvalidAmountError);
  });

  it('accepts exactly the maximum and rejects one cent above it', () => {
    expect(() => validateTransferRequest({ ...valid, amount: { amountMinor: 100_000_000n, currencyCode: 'USD' } }, limits, USER)).not.toThrow();
    expect(() => validateTransferRequest({ ...valid, amount: { amountMinor: 100_000_001n, currencyCode: 'USD' } }, limits, USER)).toThrow(
      InvalidAmountError,
    );
  });

  it('rejects sender = recipient before touching the database, whatever the case', () => {
    expect(() => validateTransferRequest({ ...valid, recipientAccountId: valid.senderAccountId.toUpperCase() }, limits, USER)).toThrow(
      SameAccountError,
    );
  });

  it('reports malformed fields before amount rules', () => {
    expect(violationsOf(() => validateTransferRequest({ ...valid, senderAccountId: 'x', amount: { amountMinor: 0n, currencyCode: 'USD' } }, limits, USER))).toEqual([
      'sender_account_id',
    ]);
  });
});

describe('deposit request validation', () => {
  const deposit = {
    accountId: '123e4567-e89b-12d3-a456-426614174000',
    amount: { amountMinor: 2500n, currencyCode: 'USD' },
    depositReference: 'topup-1',
    topUpId: '0b7e1a52-3d7f-4a55-9c43-7a1f6f0e9d11',
    card: { cardLast4: '4242', cardBrand: 'visa' },
    initiatedBy: USER,
  };

  it('accepts a well-formed deposit', () => {
    const request = validateDepositRequest(deposit);
    expect(request).toMatchObject({ accountId: deposit.accountId, amountMinor: 2500n, cardLast4: '4242', cardBrand: 'visa' });
  });

  it('rejects malformed deposit fields', () => {
    const fields = violationsOf(() =>
      validateDepositRequest(
        { ...deposit, accountId: 'x', depositReference: '', topUpId: 'y', card: { cardLast4: '42a2', cardBrand: 'b'.repeat(33) } },
      ),
    );
    expect(fields).toEqual(['account_id', 'deposit_reference', 'top_up_id', 'card.card_last4', 'card.card_brand']);
  });

  it('requires the card funding source (the topup event carries its last four digits)', () => {
    expect(violationsOf(() => validateDepositRequest({ ...deposit, card: undefined }))).toEqual(['card']);
  });

  it('rejects a zero deposit; the maximum is checked after the replay lookup (checkDepositLimit)', () => {
    expect(() => validateDepositRequest({ ...deposit, amount: { amountMinor: 0n, currencyCode: 'USD' } })).toThrow(InvalidAmountError);
    const large = validateDepositRequest({ ...deposit, amount: { amountMinor: 100_000_001n, currencyCode: 'USD' } });
    expect(() => checkDepositLimit(large, limits)).toThrow(InvalidAmountError);
  });

  it('gives different requests with the same reference different hashes', () => {
    const a = validateDepositRequest(deposit);
    const b = validateDepositRequest({ ...deposit, amount: { amountMinor: 2501n, currencyCode: 'USD' } });
    expect(a.requestHash).not.toBe(b.requestHash);
  });
});

describe('account id validation', () => {
  it('normalises a valid id and rejects a malformed one', () => {
    expect(validateAccountId('123E4567-E89B-12D3-A456-426614174000')).toBe('123e4567-e89b-12d3-a456-426614174000');
    expect(() => validateAccountId('123')).toThrow(InvalidArgumentError);
  });
});

describe('text the ledger cannot store', () => {
  // Strings a JSON parser accepts ("\u0000", "\ud800") that PostgreSQL text/jsonb refuse.
  const unstorable = ['a\u0000b', '\ud800', 'x\udc00', '\udbff\u0041', '\u0000'];
  const storable = ['', 'plain', 'emoji \ud83d\ude00', '\u0001\u001f control', 'ünïcödé', '\ufffd'];

  it.each(unstorable.map((v) => [JSON.stringify(v)]))('refuses %s', (json) => {
    expect(isStorableText(JSON.parse(json) as string)).toBe(false);
  });

  it.each(storable.map((v) => [JSON.stringify(v)]))('accepts %s', (json) => {
    expect(isStorableText(JSON.parse(json) as string)).toBe(true);
  });

  it('names every text field that holds NUL or a lone surrogate, before any database work', () => {
    expect(violationsOf(() => validateTransferRequest({ ...valid, idempotencyKey: 'k\u0000', description: '\ud800' }, limits, USER))).toEqual([
      'idempotency_key',
      'description',
    ]);
    const deposit = {
      accountId: '123e4567-e89b-12d3-a456-426614174000',
      amount: { amountMinor: 1n, currencyCode: 'USD' },
      depositReference: 'r\u0000',
      topUpId: '0b7e1a52-3d7f-4a55-9c43-7a1f6f0e9d11',
      card: { cardLast4: '4242', cardBrand: '\udfff' },
      initiatedBy: USER,
    };
    expect(violationsOf(() => validateDepositRequest(deposit))).toEqual(['deposit_reference', 'card.card_brand']);
    expect(violationsOf(() => validateDepositReference('\u0000'))).toEqual(['deposit_reference']);
    expect(violationsOf(() => validateDepositReference('x'.repeat(256)))).toEqual(['deposit_reference']);
  });
});

describe('internal accounts', () => {
  it('are not transfer parties: ACCOUNT_NOT_FOUND for the settlement account as sender or recipient, before any lock', () => {
    const settlement = '00000000-0000-0000-0000-000000000001';
    const asRecipient = (() => {
      try {
        validateTransferRequest({ ...valid, recipientAccountId: settlement }, limits, USER);
      } catch (error) {
        return error;
      }
    })();
    expect(asRecipient).toBeInstanceOf(AccountNotFoundError);
    expect((asRecipient as AccountNotFoundError).metadata).toEqual({ accountId: settlement, role: 'recipient' });
    expect(() => validateTransferRequest({ ...valid, senderAccountId: settlement }, limits, USER)).toThrow(AccountNotFoundError);
  });
});

describe('who made a deposit (initiated_by)', () => {
  const deposit = {
    accountId: '123e4567-e89b-12d3-a456-426614174000',
    amount: { amountMinor: 1n, currencyCode: 'USD' },
    depositReference: 'r-1',
    topUpId: '0b7e1a52-3d7f-4a55-9c43-7a1f6f0e9d11',
    card: { cardLast4: '4242', cardBrand: 'visa' },
    initiatedBy: USER,
  };

  it('is required, at most 255 characters and storable', () => {
    expect(violationsOf(() => validateDepositRequest({ ...deposit, initiatedBy: '' }))).toEqual(['initiated_by']);
    expect(violationsOf(() => validateDepositRequest({ ...deposit, initiatedBy: 'x'.repeat(256) }))).toEqual(['initiated_by']);
    expect(violationsOf(() => validateDepositRequest({ ...deposit, initiatedBy: 'a\u0000' }))).toEqual(['initiated_by']);
    expect(validateDepositRequest({ ...deposit, initiatedBy: 'x'.repeat(255) }).initiatedBy).toHaveLength(255);
  });

  it('is recorded but not part of the request hash: a recovery replay by another initiator is the same deposit', () => {
    expect(validateDepositRequest(deposit).requestHash).toBe(validateDepositRequest({ ...deposit, initiatedBy: 'someone-else' }).requestHash);
  });
});

describe('CreateAccount and owner validation', () => {
  it('accepts a key, an ISO 4217 currency and an optional owner', () => {
    expect(validateCreateAccountRequest({ idempotencyKey: 'k', currency: 'EUR', ownerId: '' })).toEqual({ idempotencyKey: 'k', currency: 'EUR', ownerId: undefined });
    expect(validateCreateAccountRequest({ idempotencyKey: 'k', currency: 'USD', ownerId: 'auth0|abc' }).ownerId).toBe('auth0|abc');
  });

  it('names every malformed field', () => {
    expect(violationsOf(() => validateCreateAccountRequest({ idempotencyKey: '', currency: 'usd', ownerId: 'x'.repeat(256) }))).toEqual([
      'idempotency_key',
      'currency',
      'owner_id',
    ]);
    expect(violationsOf(() => validateCreateAccountRequest({ idempotencyKey: 'k', currency: 'US', ownerId: 'a\u0000' }))).toEqual(['currency', 'owner_id']);
    expect(violationsOf(() => validateOwnerId(''))).toEqual(['owner_id']);
  });
});
