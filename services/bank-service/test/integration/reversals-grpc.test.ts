// ReverseTransfer and VerifyLedger as a caller sees them (issue #15 F3): a
// real gRPC server with mutual TLS and verified user tokens; status codes,
// ErrorInfo reasons, the audit of a forced reversal (metric), admin-only verify.
import { status as Status, type ServiceError } from '@grpc/grpc-js';
import type { BankServiceClient } from '@wallet/contracts/bank';
import { callUnary, parseGrpcError } from '@wallet/platform';
import { createTestDatabase, type TestDatabase } from '@wallet/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBankService, type RunningBankService } from '../../src/app/service.js';
import { ALICE_USER, BOB_USER, startTestCallers, SUPPORT_USER, type TestCallers } from '../support/callers.js';
import { ALICE, BOB, bankClient, silentLogger, testConfig } from '../support/helpers.js';

let db: TestDatabase;
let callers: TestCallers;
let service: RunningBankService;
let client: BankServiceClient;
// Generous: the first call also fetches the issuer's keys, on a machine shared by many suites.
const TIMEOUT_MS = 30_000;

beforeAll(async () => {
  db = await createTestDatabase('bank_reversals_grpc');
  callers = await startTestCallers();
  service = await startBankService(await testConfig(db.url, callers.env), silentLogger);
  client = await bankClient(service.grpcPort);
});

afterAll(async () => {
  client?.close();
  await service?.close();
  await callers?.close();
  await db?.drop();
});

async function grpcFailure(promise: Promise<unknown>) {
  try {
    await promise;
  } catch (error) {
    return { code: (error as ServiceError).code, reason: parseGrpcError(error).reason };
  }
  throw new Error('expected the call to fail');
}

/** Alice (seed owner of ALICE) pays Bob (owner of BOB). */
async function alicePaysBob(amountMinor: bigint): Promise<string> {
  const { transfer } = await callUnary(
    client,
    client.transferMoney,
    { senderAccountId: ALICE, recipientAccountId: BOB, amount: { amountMinor, currencyCode: 'USD' }, idempotencyKey: `t-${Math.random()}`, description: '' },
    { timeoutMs: TIMEOUT_MS, headers: await callers.as(ALICE_USER) },
  );
  return transfer!.id;
}

const reverse = async (transferId: string, headers: { authorization: string }, extra: { amountMinor?: bigint; force?: boolean } = {}) =>
  callUnary(
    client,
    client.reverseTransfer,
    {
      transferId,
      amount: extra.amountMinor === undefined ? undefined : { amountMinor: extra.amountMinor, currencyCode: 'USD' },
      reason: 'sent by mistake',
      idempotencyKey: `r-${Math.random()}`,
      force: extra.force ?? false,
    },
    { timeoutMs: TIMEOUT_MS, headers },
  );

describe('ReverseTransfer over gRPC', () => {
  it('the recipient reverses part of it; what remains is in the answer', async () => {
    const transferId = await alicePaysBob(1_000n);
    const { reversal, replayed } = await reverse(transferId, await callers.as(BOB_USER), { amountMinor: 400n });
    expect(replayed).toBe(false);
    expect(reversal).toMatchObject({ originalTransferId: transferId, fromAccountId: BOB, toAccountId: ALICE, forced: false, initiatedBy: BOB_USER });
    expect(reversal!.remaining).toEqual({ amountMinor: 600n, currencyCode: 'USD' });
  });

  it('answers the documented codes: sender PERMISSION_DENIED, support PERMISSION_DENIED, more than remains FAILED_PRECONDITION, unknown NOT_FOUND', async () => {
    const transferId = await alicePaysBob(100n);
    expect(await grpcFailure(reverse(transferId, await callers.as(ALICE_USER)))).toEqual({ code: Status.PERMISSION_DENIED, reason: 'ROLE_FORBIDDEN' });
    expect(await grpcFailure(reverse(transferId, await callers.as(SUPPORT_USER, ['support'])))).toEqual({ code: Status.PERMISSION_DENIED, reason: 'ROLE_FORBIDDEN' });
    expect(await grpcFailure(reverse(transferId, await callers.as(BOB_USER), { amountMinor: 101n }))).toEqual({
      code: Status.FAILED_PRECONDITION,
      reason: 'REVERSAL_EXCEEDS_REMAINING',
    });
    expect(await grpcFailure(reverse('00000000-0000-4000-8000-00000000dead', await callers.admin()))).toEqual({ code: Status.NOT_FOUND, reason: 'TRANSFER_NOT_FOUND' });
    expect(await grpcFailure(reverse(transferId, await callers.as(BOB_USER), { force: true }))).toEqual({ code: Status.PERMISSION_DENIED, reason: 'ROLE_FORBIDDEN' });
  });
});

describe('ListReversals over gRPC', () => {
  const list = async (transferId: string, headers: { authorization: string }, pageToken = '') =>
    callUnary(client, client.listReversals, { transferId, pageSize: 1, pageToken }, { timeoutMs: TIMEOUT_MS, headers });

  it('both parties read the reversals page by page with what remains; strangers NOT_FOUND, a bad token INVALID_ARGUMENT', async () => {
    const transferId = await alicePaysBob(500n);
    const made = [(await reverse(transferId, await callers.as(BOB_USER), { amountMinor: 100n })).reversal!, (await reverse(transferId, await callers.as(BOB_USER), { amountMinor: 50n })).reversal!];
    const first = await list(transferId, await callers.as(ALICE_USER));
    expect(first).toMatchObject({
      transferId,
      amount: { amountMinor: 500n, currencyCode: 'USD' },
      reversed: { amountMinor: 150n, currencyCode: 'USD' },
      remaining: { amountMinor: 350n, currencyCode: 'USD' },
      nextPageToken: made[0]!.id,
    });
    expect(first.reversals).toEqual([made[0]]);
    const second = await list(transferId, await callers.as(BOB_USER), first.nextPageToken);
    expect(second.reversals).toEqual([made[1]]);
    expect(second.nextPageToken).toBe('');
    expect((await list(transferId, await callers.as(SUPPORT_USER, ['support']))).reversals).toHaveLength(1);
    expect(await grpcFailure(list(transferId, await callers.as('99999999-9999-4999-8999-999999999999')))).toEqual({ code: Status.NOT_FOUND, reason: 'TRANSFER_NOT_FOUND' });
    expect(await grpcFailure(list(transferId, await callers.admin(), 'nope'))).toEqual({ code: Status.INVALID_ARGUMENT, reason: 'INVALID_ARGUMENT' });
  });

  it('replays a refused reversal\'s key as the same FAILED_PRECONDITION with replayed = "true"', async () => {
    const transferId = await alicePaysBob(100n);
    const headers = await callers.as(BOB_USER);
    const request = { transferId, amount: { amountMinor: 101n, currencyCode: 'USD' }, reason: 'too much', idempotencyKey: `r-${Math.random()}`, force: false };
    const failures = [];
    for (let i = 0; i < 2; i += 1) {
      try {
        await callUnary(client, client.reverseTransfer, request, { timeoutMs: TIMEOUT_MS, headers });
      } catch (error) {
        failures.push(parseGrpcError(error));
      }
    }
    expect(failures.map((f) => [f.reason, f.metadata.remaining, f.metadata.replayed])).toEqual([
      ['REVERSAL_EXCEEDS_REMAINING', '1.00', undefined],
      ['REVERSAL_EXCEEDS_REMAINING', '1.00', 'true'],
    ]);
  });
});

describe('VerifyLedger over gRPC', () => {
  it('admin gets the verdict over every account; customers and support are refused', async () => {
    const response = await callUnary(client, client.verifyLedger, { accountId: '', afterAccountId: '', accountsMax: 0 }, { timeoutMs: TIMEOUT_MS, headers: await callers.admin() });
    expect(response.ok).toBe(true);
    expect(response.firstBreak).toBeUndefined();
    expect(response.accountsChecked).toBeGreaterThanOrEqual(3n);
    expect(response.entriesChecked).toBeGreaterThan(0n);
    for (const headers of [await callers.as(ALICE_USER), await callers.as(SUPPORT_USER, ['support'])]) {
      expect(await grpcFailure(callUnary(client, client.verifyLedger, { accountId: '', afterAccountId: '', accountsMax: 0 }, { timeoutMs: TIMEOUT_MS, headers }))).toEqual({
        code: Status.PERMISSION_DENIED,
        reason: 'ROLE_FORBIDDEN',
      });
    }
  });

  it('refuses a malformed request with INVALID_ARGUMENT', async () => {
    const headers = await callers.admin();
    expect(await grpcFailure(callUnary(client, client.verifyLedger, { accountId: 'nope', afterAccountId: '', accountsMax: 0 }, { timeoutMs: TIMEOUT_MS, headers }))).toEqual({
      code: Status.INVALID_ARGUMENT,
      reason: 'INVALID_ARGUMENT',
    });
    expect(await grpcFailure(callUnary(client, client.verifyLedger, { accountId: '', afterAccountId: '', accountsMax: 100_001 }, { timeoutMs: TIMEOUT_MS, headers }))).toEqual({
      code: Status.INVALID_ARGUMENT,
      reason: 'INVALID_ARGUMENT',
    });
  });
});
