// Two bank instances on one database, each with its own group-commit queue
// (which keeps an account out of two of *its* batches, not out of the other
// instance's): concurrent transfers on the same hot accounts through both.
// Row locks are what keep them apart; money is conserved, no balance goes
// negative, every key executes once, and a key replayed on the other instance
// (after, or at the same time) answers the first answer.
import { status as Status } from '@grpc/grpc-js';
import type { BankServiceClient, TransferMoneyRequest, TransferMoneyResponse } from '@wallet/contracts/bank';
import { callUnary, parseGrpcError } from '@wallet/platform';
import type { TestDatabase } from '@wallet/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBankService, type RunningBankService } from '../../src/app/service.js';
import { startTestCallers, type TestCallers } from '../support/callers.js';
import { bankClient, createAccounts, createMigratedDatabase, HEALTHY_LEDGER, ledgerInvariants, silentLogger, testConfig } from '../support/helpers.js';

const HOT_ACCOUNTS = 4;
const OPENING_MINOR = 1_000n;
const TRANSFERS = 300;
/** Attempts per key when an instance answers "not done, retry" (UNAVAILABLE) or "in flight elsewhere" (ABORTED). */
const ATTEMPTS_MAX = 20;
const CALL_TIMEOUT_MS = 30_000;

let db: TestDatabase;
let callers: TestCallers;
let admin: { authorization: string };
const instances: RunningBankService[] = [];
const clients: BankServiceClient[] = [];

beforeAll(async () => {
  db = await createMigratedDatabase('bank_two_instances');
  callers = await startTestCallers();
  admin = await callers.admin();
  for (let i = 0; i < 2; i += 1) {
    // Small batches and several workers per instance, so both instances' batches overlap on the same rows.
    const config = await testConfig(db.url, {
      ...callers.env,
      BANK_OUTBOX_RELAY_ENABLED: 'false',
      BANK_GROUP_COMMIT_BATCH_SIZE_MAX: '8',
      BANK_GROUP_COMMIT_WORKERS: '4',
      BANK_REPLICA_ID: String(i + 1),
    });
    instances.push(await startBankService(config, silentLogger));
  }
  for (const instance of instances) clients.push(await bankClient(instance.grpcPort));
}, 60_000);

afterAll(async () => {
  for (const client of clients) client.close();
  await Promise.all(instances.map((instance) => instance.close()));
  await callers?.close();
  await db?.drop();
});

type Answer = { ok: true; response: TransferMoneyResponse } | { ok: false; code: number };

/** Sends the request to instance `first`, retrying with the same key on alternating instances while the answer is "retry". */
async function sendUntilAnswered(request: TransferMoneyRequest, first: number): Promise<Answer> {
  for (let attempt = 0; attempt < ATTEMPTS_MAX; attempt += 1) {
    const client = clients[(first + attempt) % clients.length]!;
    try {
      return { ok: true, response: await callUnary(client, client.transferMoney, request, { timeoutMs: CALL_TIMEOUT_MS, headers: admin }) };
    } catch (error) {
      const code = parseGrpcError(error)?.code;
      if (code !== Status.UNAVAILABLE && code !== Status.ABORTED) return { ok: false, code: code ?? Status.UNKNOWN };
      // Bounded, growing pause before the retry (not a synchronisation sleep: the other side is independent).
      await new Promise((resolve) => setTimeout(resolve, 10 * (attempt + 1)));
    }
  }
  throw new Error(`no answer for ${request.idempotencyKey} after ${ATTEMPTS_MAX} attempts`);
}

function transferRequest(sender: string, recipient: string, amountMinor: bigint, idempotencyKey: string): TransferMoneyRequest {
  return { senderAccountId: sender, recipientAccountId: recipient, amount: { amountMinor, currencyCode: 'USD' }, idempotencyKey, description: '' };
}

async function balances(ids: string[]): Promise<bigint[]> {
  const { rows } = await instances[0]!.pool.query<{ balance_minor: bigint }>('SELECT balance_minor FROM bank.accounts WHERE id = ANY($1::uuid[]) ORDER BY id', [ids]);
  return rows.map((row) => row.balance_minor);
}

async function transfersWithKeys(prefix: string): Promise<Map<string, string>> {
  const { rows } = await instances[0]!.pool.query<{ idempotency_key: string; id: string }>(
    'SELECT idempotency_key, id::text AS id FROM bank.transfers WHERE idempotency_key LIKE $1',
    [`${prefix}%`],
  );
  return new Map(rows.map((row) => [row.idempotency_key, row.id]));
}

describe('two bank instances on one database', () => {
  it('conserve money, never overdraw and execute each key once under concurrent transfers on the same hot accounts through both', async () => {
    const hot = await createAccounts(instances[0]!.pool, HOT_ACCOUNTS, OPENING_MINOR);
    // Deterministic spread: every pair of hot accounts in both directions, amounts that often exceed a balance.
    const requests = Array.from({ length: TRANSFERS }, (_, i) => {
      const sender = hot[i % HOT_ACCOUNTS]!;
      const recipient = hot[(i + 1 + (Math.floor(i / HOT_ACCOUNTS) % (HOT_ACCOUNTS - 1))) % HOT_ACCOUNTS]!;
      return transferRequest(sender, recipient, BigInt(1 + ((i * 37) % 400)), `hot-${i}`);
    });
    const answers = await Promise.all(requests.map((request, i) => sendUntilAnswered(request, i % 2)));

    const completed = answers.filter((a): a is Extract<Answer, { ok: true }> => a.ok);
    const refusals = answers.filter((a) => !a.ok).map((a) => (a as { code: number }).code);
    // Only business refusals remain (insufficient funds): every "retry" answer was retried to an end.
    expect(new Set(refusals)).toEqual(refusals.length > 0 ? new Set([Status.FAILED_PRECONDITION]) : new Set());
    expect(completed.length).toBeGreaterThan(TRANSFERS / 4);
    const stored = await transfersWithKeys('hot-');
    expect(stored.size).toBe(completed.length);
    for (const [i, answer] of answers.entries()) {
      if (answer.ok) expect(stored.get(`hot-${i}`)).toBe(answer.response.transfer!.id);
    }
    const after = await balances(hot);
    expect(after.reduce((sum, b) => sum + b, 0n)).toBe(OPENING_MINOR * BigInt(HOT_ACCOUNTS));
    expect(after.every((b) => b >= 0n)).toBe(true);
    expect(await ledgerInvariants(instances[0]!.pool)).toEqual(HEALTHY_LEDGER);

    // Replayed on the other instance: the first answer, nothing executed again.
    const replays = await Promise.all(
      answers.map(async (answer, i) => ({ answer, replay: await sendUntilAnswered(requests[i]!, (i + 1) % 2) })),
    );
    for (const { answer, replay } of replays) {
      if (answer.ok) {
        expect(replay.ok && replay.response.replayed).toBe(true);
        expect(replay.ok && replay.response.transfer!.id).toBe(answer.response.transfer!.id);
      } else {
        expect(replay).toEqual(answer);
      }
    }
    expect((await transfersWithKeys('hot-')).size).toBe(completed.length);
    expect(await balances(hot)).toEqual(after);
  }, 180_000);

  it('answers one key sent to both instances at the same time with one transfer, the same on both', async () => {
    const [a, b] = await createAccounts(instances[0]!.pool, 2, 1_000_000n);
    const keys = Array.from({ length: 40 }, (_, i) => `both-${i}`);
    const pairs = await Promise.all(
      keys.map(async (key, i) => {
        const request = transferRequest(i % 2 === 0 ? a! : b!, i % 2 === 0 ? b! : a!, BigInt(100 + i), key);
        return Promise.all([sendUntilAnswered(request, 0), sendUntilAnswered(request, 1)]);
      }),
    );
    const stored = await transfersWithKeys('both-');
    expect(stored.size).toBe(keys.length);
    for (const [i, [first, second]] of pairs.entries()) {
      expect(first.ok && second.ok).toBe(true);
      if (!first.ok || !second.ok) continue;
      expect(first.response.transfer!.id).toBe(stored.get(keys[i]!));
      expect(second.response.transfer!.id).toBe(stored.get(keys[i]!));
      // Exactly one of the two executed it.
      expect([first.response.replayed, second.response.replayed].filter(Boolean)).toHaveLength(1);
    }
    expect(await ledgerInvariants(instances[0]!.pool)).toEqual(HEALTHY_LEDGER);
  }, 120_000);
});
