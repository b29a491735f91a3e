// A transfer queued for group commit whose caller's gRPC deadline passes is
// dropped before it runs: nothing executed, the key stays free.
import { status as Status } from '@grpc/grpc-js';
import type { BankServiceClient, TransferMoneyRequest } from '@wallet/contracts/bank';
import { callUnary, parseGrpcError } from '@wallet/platform';
import { createTestDatabase, waitFor, type TestDatabase } from '@wallet/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBankService, type RunningBankService } from '../../src/app/service.js';
import { startTestCallers, type TestCallers } from '../support/callers.js';
import { bankClient, createAccounts, silentLogger, testConfig } from '../support/helpers.js';

let db: TestDatabase;
let callers: TestCallers;
let admin: { authorization: string };
let service: RunningBankService;
let client: BankServiceClient;

beforeAll(async () => {
  db = await createTestDatabase('bank_deadlines');
  callers = await startTestCallers();
  admin = await callers.admin();
  // One batch of one at a time, so a second transfer has to wait in the queue.
  service = await startBankService(
    await testConfig(db.url, { ...callers.env, BANK_GROUP_COMMIT_WORKERS: '1', BANK_GROUP_COMMIT_BATCH_SIZE_MAX: '1' }),
    silentLogger,
  );
  client = await bankClient(service.grpcPort);
});

afterAll(async () => {
  client?.close();
  await service?.close();
  await callers?.close();
  await db?.drop();
});

function request(sender: string, recipient: string, idempotencyKey: string): TransferMoneyRequest {
  return { senderAccountId: sender, recipientAccountId: recipient, amount: { amountMinor: 1n, currencyCode: 'USD' }, idempotencyKey, description: '' };
}

async function transfersWithKey(key: string): Promise<number> {
  const { rows } = await service.pool.query<{ n: bigint }>('SELECT count(*) AS n FROM bank.transfers WHERE idempotency_key = $1', [key]);
  return Number(rows[0]!.n);
}

describe('deadlines in the group-commit queue', () => {
  it('drops a queued transfer whose deadline passed: never executed, counted in bank_expired_requests_dropped_total, and a retry with the key executes it', async () => {
    const [a, b, c, d] = await createAccounts(service.pool, 4, 1_000n);
    const blocker = await service.pool.connect();
    let first: Promise<unknown> | undefined;
    try {
      await blocker.query('BEGIN');
      await blocker.query('SELECT 1 FROM bank.accounts WHERE id = $1 FOR UPDATE', [a]);
      first = callUnary(client, client.transferMoney, request(a!, b!, 'deadline-first'), { timeoutMs: 30_000, headers: admin });
      await waitFor(() => service.operations.transferQueueStats()?.batchesRunning === 1, { what: 'the first batch to run' });
      const late = callUnary(client, client.transferMoney, request(c!, d!, 'deadline-late'), { timeoutMs: 300, headers: admin });
      await waitFor(() => service.operations.transferQueueStats()?.queued === 1, { what: 'the second transfer to queue' });
      const failure = await late.then(
        () => undefined,
        (error: unknown) => parseGrpcError(error),
      );
      expect(failure?.code).toBe(Status.DEADLINE_EXCEEDED);
    } finally {
      await blocker.query('ROLLBACK');
      blocker.release();
    }
    await first?.catch(() => undefined); // its outcome does not matter here
    await waitFor(() => service.operations.transferQueueStats()?.queued === 0 && service.operations.transferQueueStats()?.batchesRunning === 0, {
      what: 'the queue to drain',
    });
    expect(await transfersWithKey('deadline-late')).toBe(0);
    // Counted as an expiry (grpc-js cancels the call at its deadline; that is not the caller's cancel).
    const dropped = await service.registry.getSingleMetric('bank_expired_requests_dropped_total')?.get();
    expect(dropped?.values[0]?.value).toBe(1);
    const retried = await callUnary(client, client.transferMoney, request(c!, d!, 'deadline-late'), { timeoutMs: 30_000, headers: admin });
    expect(retried.replayed).toBe(false);
  });
});
