// Any string a JSON parser accepts, in any field, at the bank's gRPC boundary:
// INVALID_ARGUMENT with field violations, or stored faithfully; never
// INTERNAL/UNKNOWN. And one bad request never fails or slows its batch.
import { status as Status } from '@grpc/grpc-js';
import type { BankServiceClient, DepositMoneyRequest, TransferMoneyRequest } from '@wallet/contracts/bank';
import { callUnary, parseGrpcError } from '@wallet/platform';
import { createTestDatabase, type TestDatabase } from '@wallet/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBankService, type RunningBankService } from '../../src/app/service.js';
import { DEPOSITOR, startTestCallers, type TestCallers } from '../support/callers.js';
import { bankClient, createAccounts, silentLogger, testConfig } from '../support/helpers.js';

let db: TestDatabase;
let callers: TestCallers;
let admin: { authorization: string };
let service: RunningBankService;
let client: BankServiceClient;
/** DepositMoney and GetDeposit are the card adapter's alone. */
let cardAdapter: BankServiceClient;
let from: string;
let to: string;
let counter = 0;
const TIMEOUT_MS = 20_000;

beforeAll(async () => {
  db = await createTestDatabase('bank_hostile');
  callers = await startTestCallers();
  admin = await callers.admin();
  service = await startBankService(await testConfig(db.url, callers.env), silentLogger);
  client = await bankClient(service.grpcPort);
  cardAdapter = await bankClient(service.grpcPort, 'bank-card-adapter');
  const accounts = await createAccounts(service.pool, 2, 1_000_000n);
  from = accounts[0]!;
  to = accounts[1]!;
});

afterAll(async () => {
  client?.close();
  cardAdapter?.close();
  await service?.close();
  await callers?.close();
  await db?.drop();
});

const transfer = (request: Partial<TransferMoneyRequest>) =>
  callUnary(
    client,
    client.transferMoney,
    {
      senderAccountId: from,
      recipientAccountId: to,
      amount: { amountMinor: 1n, currencyCode: 'USD' },
      idempotencyKey: `hostile-${(counter += 1)}`,
      description: '',
      ...request,
    },
    { timeoutMs: TIMEOUT_MS, headers: admin },
  );

const deposit = (request: Partial<DepositMoneyRequest>) =>
  callUnary(
    cardAdapter,
    cardAdapter.depositMoney,
    {
      accountId: to,
      amount: { amountMinor: 1n, currencyCode: 'USD' },
      depositReference: `hostile-deposit-${(counter += 1)}`,
      topUpId: '0b7e1a52-3d7f-4a55-9c43-7a1f6f0e9d11',
      card: { cardLast4: '4242', cardBrand: 'visa' },
      initiatedBy: DEPOSITOR,
      ...request,
    },
    { timeoutMs: TIMEOUT_MS },
  );

/** The call's outcome: 'ok', or the status code name and the fields it names. */
async function outcomeOf(call: Promise<unknown>): Promise<string> {
  try {
    await call;
    return 'ok';
  } catch (error) {
    const failure = parseGrpcError(error);
    return `${Status[failure.code]} ${failure.reason ?? ''} ${failure.fieldViolations.map((v) => v.field).join(',')}`.trim();
  }
}

// Strings as a JSON parser yields them: NUL, lone surrogates, huge, odd.
const NUL = JSON.parse('"a\\u0000b"') as string;
const LONE_HIGH = JSON.parse('"\\ud800"') as string;
const LONE_LOW = JSON.parse('"x\\udfff"') as string;
const HUGE = 'x'.repeat(1_000_000);

describe('TransferMoney with hostile strings', () => {
  it.each([
    ['NUL in idempotency_key', { idempotencyKey: NUL }, 'INVALID_ARGUMENT INVALID_ARGUMENT idempotency_key'],
    ['NUL in description', { description: NUL }, 'INVALID_ARGUMENT INVALID_ARGUMENT description'],
    // Protobuf carries UTF-8: the client's encoder turns a lone surrogate into U+FFFD, which is
    // valid text and stored as such (the unit tests cover lone surrogates reaching validation).
    ['a lone high surrogate in description', { description: LONE_HIGH }, 'ok'],
    ['a lone low surrogate in idempotency_key', { idempotencyKey: LONE_LOW }, 'ok'],
    ['a 1 MB description', { description: HUGE }, 'INVALID_ARGUMENT INVALID_ARGUMENT description'],
    ['a non-UUID sender', { senderAccountId: `${from}\u0000` }, 'INVALID_ARGUMENT INVALID_ARGUMENT sender_account_id'],
    ['NUL in the currency', { amount: { amountMinor: 1n, currencyCode: 'US\u0000' } }, 'INVALID_ARGUMENT INVALID_ARGUMENT amount.currency_code'],
    ['the largest int64 amount', { amount: { amountMinor: 9_223_372_036_854_775_807n, currencyCode: 'USD' } }, 'INVALID_ARGUMENT INVALID_AMOUNT amount.amount_minor'],
    ['the smallest int64 amount', { amount: { amountMinor: -9_223_372_036_854_775_808n, currencyCode: 'USD' } }, 'INVALID_ARGUMENT INVALID_AMOUNT amount.amount_minor'],
    ['a paired emoji and control characters', { description: 'ok \ud83d\ude00 \u0001\u001f' }, 'ok'],
  ])('%s: %s', async (_name, request, expected) => {
    expect(await outcomeOf(transfer(request))).toBe(expected);
  });

  it('stores unusual but valid text faithfully', async () => {
    const description = 'ünï \ud83d\ude00 \u0001 \ufffd "quote" \\ back';
    const result = await transfer({ description });
    expect(result.transfer?.description).toBe(description);
    const { rows } = await service.pool.query<{ description: string }>('SELECT description FROM bank.transfers WHERE id = $1', [result.transfer!.id]);
    expect(rows[0]!.description).toBe(description);
  });
});

describe('DepositMoney and GetDeposit with hostile strings', () => {
  it.each([
    ['NUL in deposit_reference', { depositReference: NUL }, 'INVALID_ARGUMENT INVALID_ARGUMENT deposit_reference'],
    ['a lone surrogate in card_brand (arrives as U+FFFD)', { card: { cardLast4: '4242', cardBrand: LONE_HIGH } }, 'ok'],
    ['a huge deposit_reference', { depositReference: HUGE }, 'INVALID_ARGUMENT INVALID_ARGUMENT deposit_reference'],
    ['the largest int64 amount', { amount: { amountMinor: 9_223_372_036_854_775_807n, currencyCode: 'USD' } }, 'INVALID_ARGUMENT INVALID_AMOUNT amount.amount_minor'],
    ['NUL in initiated_by', { initiatedBy: NUL }, 'INVALID_ARGUMENT INVALID_ARGUMENT initiated_by'],
    ['a huge initiated_by', { initiatedBy: HUGE }, 'INVALID_ARGUMENT INVALID_ARGUMENT initiated_by'],
    ['no initiated_by', { initiatedBy: '' }, 'INVALID_ARGUMENT INVALID_ARGUMENT initiated_by'],
  ])('%s: %s', async (_name, request, expected) => {
    expect(await outcomeOf(deposit(request))).toBe(expected);
  });

  it.each([
    ['NUL', NUL, 'INVALID_ARGUMENT INVALID_ARGUMENT deposit_reference'],
    ['a huge reference', HUGE, 'INVALID_ARGUMENT INVALID_ARGUMENT deposit_reference'],
    ['a lone surrogate (arrives as U+FFFD)', LONE_LOW, 'ok'],
  ])('GetDeposit with %s in the reference', async (_name, depositReference, expected) => {
    const call = callUnary(cardAdapter, cardAdapter.getDeposit, { depositReference, voidIfAbsent: true }, { timeoutMs: TIMEOUT_MS });
    expect(await outcomeOf(call)).toBe(expected);
  });
});

describe('CreateAccount and ListAccounts with hostile strings', () => {
  it.each([
    ['NUL in owner_id', { ownerId: NUL }, 'INVALID_ARGUMENT INVALID_ARGUMENT owner_id'],
    ['a huge owner_id', { ownerId: HUGE }, 'INVALID_ARGUMENT INVALID_ARGUMENT owner_id'],
    ['NUL in idempotency_key', { idempotencyKey: NUL }, 'INVALID_ARGUMENT INVALID_ARGUMENT idempotency_key'],
    ['a lower-case currency', { currency: 'usd' }, 'INVALID_ARGUMENT INVALID_ARGUMENT currency'],
    ['NUL in the currency', { currency: 'US\u0000' }, 'INVALID_ARGUMENT INVALID_ARGUMENT currency'],
    ['an owner with odd but valid text', { ownerId: 'auth0|ünï \ud83d\ude00' }, 'ok'],
  ])('CreateAccount, %s: %s', async (_name, request, expected) => {
    const call = callUnary(
      client,
      client.createAccount,
      { idempotencyKey: `hostile-open-${(counter += 1)}`, currency: 'USD', ownerId: '', ...request },
      { timeoutMs: TIMEOUT_MS, headers: admin },
    );
    expect(await outcomeOf(call)).toBe(expected);
  });

  it.each([
    ['NUL', NUL, 'INVALID_ARGUMENT INVALID_ARGUMENT owner_id'],
    ['a huge owner', HUGE, 'INVALID_ARGUMENT INVALID_ARGUMENT owner_id'],
  ])('ListAccounts with %s in owner_id', async (_name, ownerId, expected) => {
    expect(await outcomeOf(callUnary(client, client.listAccounts, { ownerId }, { timeoutMs: TIMEOUT_MS, headers: admin }))).toBe(expected);
  });
});
