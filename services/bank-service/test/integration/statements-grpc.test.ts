// GetBalanceAt and the GetStatement server stream as the gateway sees them:
// a real gRPC server, mutual TLS, a verified user, statuses with ErrorInfo.
import { Metadata, status as Status } from '@grpc/grpc-js';
import type { BankServiceClient, GetStatementRequest, GetStatementResponse } from '@wallet/contracts/bank';
import { callUnary, parseGrpcError } from '@wallet/platform';
import { createTestDatabase, type TestDatabase } from '@wallet/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBankService, type RunningBankService } from '../../src/app/service.js';
import { ALICE_USER, BOB_USER, startTestCallers, type TestCallers } from '../support/callers.js';
import { ALICE, BOB, bankClient, balanceOf, silentLogger, testConfig } from '../support/helpers.js';

let db: TestDatabase;
let callers: TestCallers;
let service: RunningBankService;
let client: BankServiceClient;
const TIMEOUT_MS = 10_000;

beforeAll(async () => {
  db = await createTestDatabase('bank_statements_grpc');
  callers = await startTestCallers();
  service = await startBankService(await testConfig(db.url, { ...callers.env, BANK_STATEMENT_CHUNK_SIZE_MAX: '1' }), silentLogger);
  client = await bankClient(service.grpcPort);
});

afterAll(async () => {
  client?.close();
  await service?.close();
  await callers?.close();
  await db?.drop();
});

async function metadataOf(subject: string): Promise<Metadata> {
  const metadata = new Metadata();
  metadata.set('authorization', (await callers.as(subject)).authorization);
  return metadata;
}

async function readStatement(bank: BankServiceClient, request: GetStatementRequest, metadata: Metadata): Promise<GetStatementResponse[]> {
  const parts: GetStatementResponse[] = [];
  const stream = bank.getStatement(request, metadata, { deadline: Date.now() + TIMEOUT_MS });
  for await (const part of stream) parts.push(part as GetStatementResponse);
  return parts;
}

async function failureOf(promise: Promise<unknown>) {
  try {
    await promise;
  } catch (error) {
    return parseGrpcError(error);
  }
  throw new Error('expected the call to fail');
}

describe('GetStatement over gRPC', () => {
  it('streams the header, one message per chunk and the footer; the closing balance is the ledger balance', async () => {
    // The seed gives alice's account one opening entry of 1000.00.
    const request = { accountId: ALICE, from: new Date('2000-01-01T00:00:00Z'), to: new Date('2100-01-01T00:00:00Z'), entriesMax: 0 };
    const parts = await readStatement(client, request, await metadataOf(ALICE_USER));
    expect(parts.map((p) => p.part?.$case)).toEqual(['header', 'entries', 'footer']);
    expect(parts[0]!.part).toMatchObject({ value: { accountId: ALICE, currency: 'USD', openingBalance: { amountMinor: 0n, currencyCode: 'USD' } } });
    expect(parts[1]!.part).toMatchObject({ value: { entries: [{ entryType: 'opening', amountMinor: 100_000n, balanceAfterMinor: 100_000n }] } });
    expect(parts[2]!.part).toMatchObject({ value: { closingBalance: { amountMinor: await balanceOf(service.pool, ALICE) }, entryCount: 1n } });
  });

  it('answers INVALID_ARGUMENT entries_max before any message when the range holds more, NOT_FOUND for another customer', async () => {
    const metadata = await metadataOf(ALICE_USER);
    const headers = { authorization: metadata.get('authorization')[0] as string };
    const transfer = { senderAccountId: ALICE, recipientAccountId: BOB, amount: { amountMinor: 1n, currencyCode: 'USD' }, idempotencyKey: 'statement-grpc', description: '' };
    await callUnary(client, client.transferMoney, transfer, { timeoutMs: TIMEOUT_MS, headers });
    const request = { accountId: ALICE, from: new Date('2000-01-01T00:00:00Z'), to: new Date('2100-01-01T00:00:00Z'), entriesMax: 1 };
    const received: GetStatementResponse[] = [];
    const tooLarge = await failureOf(
      (async () => {
        const stream = client.getStatement(request, metadata, { deadline: Date.now() + TIMEOUT_MS });
        for await (const part of stream) received.push(part as GetStatementResponse);
      })(),
    );
    expect(tooLarge).toMatchObject({ code: Status.INVALID_ARGUMENT, reason: 'INVALID_ARGUMENT', metadata: { entries_max: '1' } });
    expect(received).toEqual([]);
    const stranger = await failureOf(readStatement(client, { ...request, entriesMax: 0 }, await metadataOf(BOB_USER)));
    expect(stranger).toMatchObject({ code: Status.NOT_FOUND, reason: 'ACCOUNT_NOT_FOUND' });
  });
});

describe('GetBalanceAt over gRPC', () => {
  it('answers the posted balance at an instant, with the last entry counted', async () => {
    const metadata = await metadataOf(ALICE_USER);
    const before = await callUnary(client, client.getBalanceAt, { accountId: ALICE, at: new Date('2000-01-01T00:00:00Z') }, { timeoutMs: TIMEOUT_MS, headers: { authorization: metadata.get('authorization')[0] as string } });
    expect(before).toMatchObject({ accountId: ALICE, balance: { amountMinor: 0n, currencyCode: 'USD' }, lastEntryId: 0n });
    const now = await callUnary(client, client.getBalanceAt, { accountId: ALICE, at: new Date() }, { timeoutMs: TIMEOUT_MS, headers: { authorization: metadata.get('authorization')[0] as string } });
    expect(now.balance?.amountMinor).toBe(await balanceOf(service.pool, ALICE));
    expect(now.lastEntryId).toBeGreaterThan(0n);
  });
});
