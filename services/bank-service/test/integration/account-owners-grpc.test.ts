// GetAccountOwners over gRPC (issue #15): the webhook-service (its
// certificate) gets owners; any other calling service is refused before the
// handler runs (mTLS caller table, ADR 0009).
import { randomUUID } from 'node:crypto';
import { status as Status } from '@grpc/grpc-js';
import { BankServiceClient } from '@wallet/contracts/bank';
import { callUnary, createGrpcClient, parseGrpcError } from '@wallet/platform';
import { createTestDatabase, type TestDatabase } from '@wallet/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testClientTransport, type ServiceName } from '../../../../test/support/pki.js';
import { startBankService, type RunningBankService } from '../../src/app/service.js';
import { principal, startTestCallers, type TestCallers } from '../support/callers.js';
import { silentLogger, testConfig } from '../support/helpers.js';

let db: TestDatabase;
let callers: TestCallers;
let service: RunningBankService;

beforeAll(async () => {
  db = await createTestDatabase('bank_owners_grpc');
  callers = await startTestCallers();
  service = await startBankService(await testConfig(db.url, { ...callers.env, BANK_OUTBOX_RELAY_ENABLED: 'false' }), silentLogger);
});

afterAll(async () => {
  await service?.close();
  await callers?.close();
  await db?.drop();
});

async function ownersAs(caller: ServiceName, accountIds: string[]) {
  const client = createGrpcClient(BankServiceClient, `127.0.0.1:${service.grpcPort}`, await testClientTransport('bank-service', caller));
  try {
    return await callUnary(client, client.getAccountOwners, { accountIds }, { timeoutMs: 10_000 });
  } finally {
    client.close();
  }
}

describe('GetAccountOwners over gRPC', () => {
  it('answers the webhook-service the owners of the accounts it asks about', async () => {
    const subject = `user-${randomUUID()}`;
    const { account } = await service.operations.createAccount({ idempotencyKey: randomUUID(), currency: 'USD', ownerId: '' }, principal(subject));
    const response = await ownersAs('webhook-service', [account.id, randomUUID()]);
    expect(response.owners).toEqual({ [account.id]: subject });
  });

  it('refuses the api-gateway (not in the caller table) and malformed ids (INVALID_ARGUMENT)', async () => {
    const refused = await ownersAs('api-gateway', [randomUUID()]).catch((error: unknown) => parseGrpcError(error));
    expect(refused).toMatchObject({ code: Status.PERMISSION_DENIED, reason: 'CALLER_NOT_ALLOWED' });
    const invalid = await ownersAs('webhook-service', ['nope']).catch((error: unknown) => parseGrpcError(error));
    expect(invalid).toMatchObject({ code: Status.INVALID_ARGUMENT, reason: 'INVALID_ARGUMENT' });
  });
});
