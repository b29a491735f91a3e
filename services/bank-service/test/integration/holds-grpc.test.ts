// Holds through the running bank's gRPC boundary (ADR 0015): the verified
// caller, the status codes and ErrorInfo a client acts on (HOLD_NOT_PENDING
// with "status"), hostile strings refused as INVALID_ARGUMENT, never INTERNAL,
// and the service's own expiry sweep releasing a due hold by itself.
import { randomUUID } from 'node:crypto';
import { status as Status } from '@grpc/grpc-js';
import { HoldStatus, type BankServiceClient, type CreateHoldRequest } from '@wallet/contracts/bank';
import { callUnary, parseGrpcError } from '@wallet/platform';
import { createTestDatabase, type TestDatabase } from '@wallet/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBankService, type RunningBankService } from '../../src/app/service.js';
import { startTestCallers, type TestCallers } from '../support/callers.js';
import { bankClient, createAccounts, silentLogger, testConfig } from '../support/helpers.js';

let db: TestDatabase;
let callers: TestCallers;
let admin: { authorization: string };
let service: RunningBankService;
let client: BankServiceClient;
let from: string;
let to: string;
const TIMEOUT_MS = 20_000;

beforeAll(async () => {
  db = await createTestDatabase('bank_holds_grpc');
  callers = await startTestCallers();
  admin = await callers.admin();
  service = await startBankService(await testConfig(db.url, { ...callers.env, BANK_HOLD_SWEEP_INTERVAL_MS: '50' }), silentLogger);
  client = await bankClient(service.grpcPort);
  [from, to] = (await createAccounts(service.pool, 2, 1_000_000n)) as [string, string];
});

afterAll(async () => {
  client?.close();
  await service?.close();
  await callers?.close();
  await db?.drop();
});

const create = (request: Partial<CreateHoldRequest> = {}, headers = admin) =>
  callUnary(
    client,
    client.createHold,
    {
      senderAccountId: from,
      recipientAccountId: to,
      amount: { amountMinor: 100n, currencyCode: 'USD' },
      idempotencyKey: randomUUID(),
      description: 'grpc',
      expiresAt: undefined,
      ...request,
    },
    { timeoutMs: TIMEOUT_MS, headers },
  );

async function failure(call: Promise<unknown>) {
  try {
    await call;
  } catch (error) {
    return parseGrpcError(error);
  }
  throw new Error('expected the call to fail');
}

describe('holds over gRPC', () => {
  it('creates, captures part, and answers a void of the captured hold FAILED_PRECONDITION / HOLD_NOT_PENDING with its status', async () => {
    const { hold, replayed } = await create();
    expect(replayed).toBe(false);
    expect(hold).toMatchObject({ status: HoldStatus.HOLD_STATUS_PENDING, amount: { amountMinor: 100n, currencyCode: 'USD' }, transferId: '' });
    const captured = await callUnary(client, client.captureHold, { holdId: hold!.id, amount: { amountMinor: 40n, currencyCode: 'USD' } }, { timeoutMs: TIMEOUT_MS, headers: admin });
    expect(captured.hold).toMatchObject({ status: HoldStatus.HOLD_STATUS_CAPTURED, capturedAmount: { amountMinor: 40n, currencyCode: 'USD' } });
    expect(captured.transfer).toMatchObject({ amount: { amountMinor: 40n, currencyCode: 'USD' }, senderAccountId: from, recipientAccountId: to });
    const voided = await failure(callUnary(client, client.voidHold, { holdId: hold!.id }, { timeoutMs: TIMEOUT_MS, headers: admin }));
    expect({ code: voided.code, reason: voided.reason, status: voided.metadata.status }).toEqual({ code: Status.FAILED_PRECONDITION, reason: 'HOLD_NOT_PENDING', status: 'captured' });
  });

  it('the service\'s sweep expires a due hold by itself and gives the money back', async () => {
    const { hold } = await create({ expiresAt: new Date(Date.now() + 2_000) });
    const deadlineMs = Date.now() + 15_000;
    let status = hold!.status;
    while (status === HoldStatus.HOLD_STATUS_PENDING && Date.now() < deadlineMs) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      status = (await callUnary(client, client.getHold, { holdId: hold!.id }, { timeoutMs: TIMEOUT_MS, headers: admin })).hold!.status;
    }
    expect(status).toBe(HoldStatus.HOLD_STATUS_EXPIRED);
    const { rows: parts } = await service.pool.query<{ pending_out_minor: bigint }>('SELECT pending_out_minor FROM bank.accounts WHERE id = $1', [from]);
    expect(parts[0]!.pending_out_minor).toBe(0n);
    const { rows } = await service.pool.query<{ n: bigint }>(`SELECT count(*) AS n FROM bank.outbox WHERE event_type = 'hold_expired' AND payload->>'holdId' = $1`, [hold!.id]);
    // The relay may already have published them; then they are gone from the outbox.
    expect(rows[0]!.n === 2n || rows[0]!.n === 0n).toBe(true);
  });

  it.each([
    ['NUL in the key', { idempotencyKey: 'a\u0000b' }, 'idempotency_key'],
    ['NUL in the description', { description: 'a\u0000b' }, 'description'],
    ['a 1 MB description', { description: 'x'.repeat(1_000_000) }, 'description'],
    ['a non-UUID recipient', { recipientAccountId: 'nope' }, 'recipient_account_id'],
    ['an expiry in the past', { expiresAt: new Date(Date.now() - 60_000) }, 'expires_at'],
  ])('%s: INVALID_ARGUMENT naming the field', async (_name, request, field) => {
    const answer = await failure(create(request));
    expect(answer.code).toBe(Status.INVALID_ARGUMENT);
    expect(answer.fieldViolations.map((v) => v.field)).toContain(field);
  });

  it('support may read but not create; a stranger does not see the hold', async () => {
    const { hold } = await create();
    const support = await callers.as('support-user', ['support']);
    expect((await failure(create({}, support))).code).toBe(Status.PERMISSION_DENIED);
    expect((await callUnary(client, client.getHold, { holdId: hold!.id }, { timeoutMs: TIMEOUT_MS, headers: support })).hold!.id).toBe(hold!.id);
    const stranger = await callers.as(`user-${randomUUID()}`);
    const unseen = await failure(callUnary(client, client.getHold, { holdId: hold!.id }, { timeoutMs: TIMEOUT_MS, headers: stranger }));
    expect({ code: unseen.code, reason: unseen.reason }).toEqual({ code: Status.NOT_FOUND, reason: 'HOLD_NOT_FOUND' });
  });
});
