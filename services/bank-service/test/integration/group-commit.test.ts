// Group commit of TransferMoney on a real PostgreSQL: many requests, one
// transaction, and still every request decided, idempotent and answered on
// its own. Requests submitted in the same tick share one batch (the queue
// forms a batch from what is queued when a worker is free), which is how
// these tests put requests together without any timing.
import { status as Status } from '@grpc/grpc-js';
import { waitFor, type TestDatabase } from '@wallet/testkit';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BankOperations, BankOperationsOptions, TransferBatchReport, TransferResult } from '../../src/app/operations.js';
import {
  BankError,
  IdempotencyKeyInFlightError,
  IdempotencyKeyReusedError,
  InsufficientFundsError,
  StorageUnavailableError,
} from '../../src/domain/errors.js';
import { transferLockKey } from '../../src/domain/hashing.js';
import type { TransferMoneyInput } from '../../src/domain/requests.js';
import { toGrpcError } from '../../src/grpc/errors.js';
import {
  balanceOf,
  createAccounts,
  createMigratedDatabase,
  HEALTHY_LEDGER,
  ledgerInvariants,
  rejection,
  testOperations,
  testPool,
} from '../support/helpers.js';
import { ADMIN } from '../support/callers.js';

let db: TestDatabase;
let pool: pg.Pool;
let keyCounter = 0;
const newKey = () => `group-commit-${(keyCounter += 1)}`;

beforeAll(async () => {
  db = await createMigratedDatabase('bank_group_commit');
  pool = testPool(db.url, { connectionsMax: 20 });
});

afterAll(async () => {
  await pool?.end();
  await db?.drop();
});

function transfer(sender: string, recipient: string, amountMinor: bigint, extra: Partial<TransferMoneyInput> = {}): TransferMoneyInput {
  return {
    senderAccountId: sender,
    recipientAccountId: recipient,
    amount: { amountMinor, currencyCode: 'USD' },
    idempotencyKey: newKey(),
    description: '',
    ...extra,
  };
}

/** Operations with their own queue, recording batches, commits and retries. */
function observed(options: Partial<BankOperationsOptions> = {}, onPool: pg.Pool = pool) {
  const batches: TransferBatchReport[] = [];
  const retries: string[] = [];
  let commits = 0;
  const ops = testOperations(onPool, {
    onTransferBatch: (report) => batches.push(report),
    onRetry: (operation, cause) => retries.push(`${operation}:${cause}`),
    onCommitted: () => {
      commits += 1;
    },
    ...options,
  });
  return { ops, batches, retries, commits: () => commits };
}

/** Submits all requests in one tick (so they share a batch) and waits for every answer. */
function together(ops: BankOperations, requests: TransferMoneyInput[]): Promise<Array<PromiseSettledResult<TransferResult>>> {
  return Promise.allSettled(requests.map((r) => ops.transferMoney(r, ADMIN)));
}

function reasonOf(result: PromiseSettledResult<TransferResult>): string {
  if (result.status === 'fulfilled') return result.value.replayed ? 'replayed' : 'ok';
  return result.reason instanceof BankError ? result.reason.reason : `other: ${(result.reason as Error).message}`;
}

function valueOf(result: PromiseSettledResult<TransferResult> | undefined): TransferResult {
  if (result?.status !== 'fulfilled') throw new Error(`expected a result, got ${String(result?.status === 'rejected' ? result.reason : result)}`);
  return result.value;
}

async function transfersWithKey(sender: string, key: string): Promise<number> {
  const { rows } = await pool.query<{ n: bigint }>('SELECT count(*) AS n FROM bank.transfers WHERE sender_account_id = $1 AND idempotency_key = $2', [sender, key]);
  return Number(rows[0]!.n);
}

describe('group commit: one transaction for many transfers', () => {
  it('decides a batch in arrival order: the request short of funds fails alone, the others commit, each caller gets its own answer', async () => {
    const { ops, batches, commits } = observed();
    const [a, b, c] = await createAccounts(pool, 3, 1_000n);
    const requests = [
      transfer(a!, b!, 600n, { description: 'first' }),
      transfer(a!, c!, 600n), // a has 400 left
      transfer(b!, c!, 1_500n), // spends the credit from the first
      transfer(a!, c!, 400n, { description: 'last' }),
    ];
    const results = await together(ops, requests);

    expect(results.map(reasonOf)).toEqual(['ok', 'INSUFFICIENT_FUNDS', 'ok', 'ok']);
    expect((results[1] as PromiseRejectedResult).reason).toBeInstanceOf(InsufficientFundsError);
    for (const i of [0, 2, 3]) {
      const { transfer: t } = valueOf(results[i]);
      expect(t).toMatchObject({
        senderAccountId: requests[i]!.senderAccountId,
        recipientAccountId: requests[i]!.recipientAccountId,
        amountMinor: requests[i]!.amount!.amountMinor,
        idempotencyKey: requests[i]!.idempotencyKey,
        description: requests[i]!.description,
      });
    }
    expect(batches).toEqual([{ size: 4, outcome: 'committed' }]);
    expect(commits()).toBe(1); // one relay wake per committed batch
    expect([await balanceOf(pool, a!), await balanceOf(pool, b!), await balanceOf(pool, c!)]).toEqual([0n, 100n, 2_900n]);
    expect(await transfersWithKey(a!, requests[1]!.idempotencyKey)).toBe(0); // failed outcomes are not stored

    // Per-account outbox order is decision order.
    const { rows } = await pool.query<{ transfer_id: string }>(
      `SELECT payload->>'transferId' AS transfer_id FROM bank.outbox WHERE account_id = $1 AND event_type = 'transfer_out' ORDER BY id`,
      [a],
    );
    expect(rows.map((r) => r.transfer_id)).toEqual([valueOf(results[0]).transfer.id, valueOf(results[3]).transfer.id]);
    expect(await ledgerInvariants(pool)).toEqual(HEALTHY_LEDGER);
  });

  it('refuses duplicates of a key still executing with IDEMPOTENCY_KEY_IN_FLIGHT and executes the key once', async () => {
    const { ops } = observed();
    const [a, b] = await createAccounts(pool, 2, 1_000n);
    const request = transfer(a!, b!, 100n);
    // Hold the sender's row so the first request is still executing when its duplicates arrive.
    const holder = await pool.connect();
    let first: Promise<TransferResult>;
    let duplicates: Array<PromiseSettledResult<TransferResult>>;
    try {
      await holder.query('BEGIN');
      await holder.query('SELECT 1 FROM bank.accounts WHERE id = $1 FOR UPDATE', [a]);
      first = ops.transferMoney(request, ADMIN);
      duplicates = await together(ops, [request, { ...request, amount: { amountMinor: 101n, currencyCode: 'USD' } }]);
      await holder.query('COMMIT');
    } finally {
      holder.release();
    }
    expect(duplicates.map(reasonOf)).toEqual(['IDEMPOTENCY_KEY_IN_FLIGHT', 'IDEMPOTENCY_KEY_IN_FLIGHT']);
    expect((duplicates[0] as PromiseRejectedResult).reason).toBeInstanceOf(IdempotencyKeyInFlightError);
    const done = await first;
    expect(done.replayed).toBe(false);
    expect(await transfersWithKey(a!, request.idempotencyKey)).toBe(1);
    expect(await balanceOf(pool, a!)).toBe(900n);
    // Once it completed, the same request replays it and a different one is REUSED.
    expect(await ops.transferMoney(request, ADMIN)).toMatchObject({ replayed: true, transfer: done.transfer });
    await expect(ops.transferMoney({ ...request, amount: { amountMinor: 101n, currencyCode: 'USD' } }, ADMIN)).rejects.toBeInstanceOf(IdempotencyKeyReusedError);
  });

  it('replays concurrent duplicates of a completed key, never answering IN_FLIGHT', async () => {
    const { ops } = observed();
    const [a, b] = await createAccounts(pool, 2, 1_000n);
    const request = transfer(a!, b!, 100n);
    const done = await ops.transferMoney(request, ADMIN);
    const results = await together(ops, Array.from({ length: 10 }, () => request));
    expect(results.map(reasonOf)).toEqual(Array.from({ length: 10 }, () => 'replayed'));
    for (const result of results) expect(valueOf(result).transfer).toEqual(done.transfer);
    expect(await transfersWithKey(a!, request.idempotencyKey)).toBe(1);
  });

  it('binds a failure to its key: a duplicate arriving meanwhile is IN_FLIGHT, a retry after funding replays the failure', async () => {
    const { ops } = observed();
    const [poor, rich] = await createAccounts(pool, 2, 50n);
    const request = transfer(poor!, rich!, 80n);
    const results = await together(ops, [request, request]);
    expect(results.map(reasonOf)).toEqual(['INSUFFICIENT_FUNDS', 'IDEMPOTENCY_KEY_IN_FLIGHT']);
    expect((results[1] as PromiseRejectedResult).reason).toBeInstanceOf(IdempotencyKeyInFlightError);
    await ops.transferMoney(transfer(rich!, poor!, 30n), ADMIN);
    const retried = await rejection(ops.transferMoney(request, ADMIN));
    expect(retried).toBeInstanceOf(InsufficientFundsError);
    expect((retried as InsufficientFundsError).metadata.replayed).toBe('true');
    expect(await balanceOf(pool, poor!)).toBe(80n);
  });

  it('replays a bound failure inside a batch next to new transfers', async () => {
    const { ops, batches } = observed();
    const [poor, rich] = await createAccounts(pool, 2, 10n);
    const failing = transfer(poor!, rich!, 20n);
    expect(await rejection(ops.transferMoney(failing, ADMIN))).toBeInstanceOf(InsufficientFundsError);
    batches.length = 0;
    const results = await together(ops, [transfer(rich!, poor!, 10n), failing, transfer(poor!, rich!, 15n)]);
    expect(results.map(reasonOf)).toEqual(['ok', 'INSUFFICIENT_FUNDS', 'ok']);
    expect(batches).toEqual([{ size: 3, outcome: 'committed' }]);
  });

  it('answers replays and reused keys inside a batch from the stored transfers, next to new transfers', async () => {
    const [a, b, other] = await createAccounts(pool, 3, 1_000n);
    const setup = observed().ops;
    const done1 = await setup.transferMoney(transfer(a!, b!, 100n, { idempotencyKey: 'batch-replay-1' }), ADMIN);
    await setup.transferMoney(transfer(a!, b!, 200n, { idempotencyKey: 'batch-replay-2' }), ADMIN);

    const { ops, batches, commits } = observed();
    const results = await together(ops, [
      transfer(a!, b!, 100n, { idempotencyKey: 'batch-replay-1' }), // replay
      transfer(a!, b!, 250n, { idempotencyKey: 'batch-replay-2' }), // same key, other request
      transfer(a!, b!, 300n), // new
      transfer(other!, b!, 100n, { idempotencyKey: 'batch-replay-1' }), // same key, other sender: new
    ]);
    expect(results.map(reasonOf)).toEqual(['replayed', 'IDEMPOTENCY_KEY_REUSED', 'ok', 'ok']);
    expect(valueOf(results[0]).transfer).toEqual(done1.transfer);
    expect(batches).toEqual([{ size: 4, outcome: 'committed' }]);
    expect(commits()).toBe(1);
    expect([await balanceOf(pool, a!), await balanceOf(pool, other!)]).toEqual([400n, 900n]);

    // A batch of replays only writes nothing and wakes nobody.
    const again = observed();
    const replays = await together(again.ops, [transfer(a!, b!, 100n, { idempotencyKey: 'batch-replay-1' }), transfer(a!, b!, 200n, { idempotencyKey: 'batch-replay-2' })]);
    expect(replays.map(reasonOf)).toEqual(['replayed', 'replayed']);
    expect(again.commits()).toBe(0);
    expect(await ledgerInvariants(pool)).toEqual(HEALTHY_LEDGER);
  });

  it('answers IN_FLIGHT only for the key another transaction holds; the rest of the batch commits', async () => {
    const { ops } = observed();
    const [a, b] = await createAccounts(pool, 2, 1_000n);
    const held = transfer(a!, b!, 10n);
    const holder = await pool.connect();
    try {
      await holder.query('BEGIN');
      await holder.query('SELECT pg_advisory_xact_lock($1::bigint)', [transferLockKey(a!, held.idempotencyKey).toString()]);
      const results = await together(ops, [transfer(a!, b!, 1n), held, transfer(a!, b!, 2n)]);
      expect(results.map(reasonOf)).toEqual(['ok', 'IDEMPOTENCY_KEY_IN_FLIGHT', 'ok']);
    } finally {
      await holder.query('ROLLBACK');
      holder.release();
    }
    expect((await ops.transferMoney(held, ADMIN)).replayed).toBe(false);
    expect(await balanceOf(pool, a!)).toBe(987n);
  });
});

describe('group commit under load', () => {
  it('answers a burst of 500 transfers from one sender: exactly the affordable ones succeed, money conserved', async () => {
    const { ops, batches } = observed();
    // Funds for exactly 123 transfers of 1.00.
    const [sender] = await createAccounts(pool, 1, 12_300n);
    const recipients = await createAccounts(pool, 5, 0n);
    const requests = Array.from({ length: 500 }, (_, i) => transfer(sender!, recipients[i % recipients.length]!, 100n));
    const results = await together(ops, requests);

    expect(results).toHaveLength(500);
    const reasons = results.map(reasonOf);
    expect(reasons.filter((r) => r === 'ok')).toHaveLength(123);
    expect(reasons.filter((r) => r === 'INSUFFICIENT_FUNDS')).toHaveLength(377);
    // Arrival order decides who gets the money.
    expect(reasons.slice(0, 123).every((r) => r === 'ok')).toBe(true);
    expect(await balanceOf(pool, sender!)).toBe(0n);
    let received = 0n;
    for (const r of recipients) received += await balanceOf(pool, r!);
    expect(received).toBe(12_300n);
    const { rows } = await pool.query<{ n: bigint }>('SELECT count(*) AS n FROM bank.transfers WHERE sender_account_id = $1', [sender]);
    expect(rows[0]!.n).toBe(123n);
    // Bounded batches, all committed, every request in exactly one of them.
    expect(batches.every((b) => b.outcome === 'committed' && b.size <= 128)).toBe(true);
    expect(batches.reduce((n, b) => n + b.size, 0)).toBe(500);
    expect(await ledgerInvariants(pool)).toEqual(HEALTHY_LEDGER);
  });

  it('surfaces no deadlock when two replicas move money both ways between hot accounts', async () => {
    const other = testPool(db.url, { connectionsMax: 10 });
    try {
      const replica1 = observed({}, pool);
      const replica2 = observed({ groupCommit: { workers: 3, maxBatch: 16 } }, other);
      const accounts = await createAccounts(pool, 3, 1_000_000n);
      const [x, y, z] = accounts as [string, string, string];
      const pairs: Array<[string, string]> = [
        [x, y],
        [y, x],
        [y, z],
        [z, x],
        [x, z],
        [z, y],
      ];
      const requests: Array<Promise<TransferResult>> = [];
      // Waves, so that batches of both replicas overlap in time.
      for (let wave = 0; wave < 10; wave += 1) {
        for (let i = 0; i < 30; i += 1) {
          const [from, to] = pairs[(wave + i) % pairs.length]!;
          requests.push(replica1.ops.transferMoney(transfer(from, to, BigInt(1 + i)), ADMIN));
          requests.push(replica2.ops.transferMoney(transfer(to, from, BigInt(1 + i)), ADMIN));
        }
        await Promise.resolve();
      }
      const results = await Promise.allSettled(requests);
      expect(results.filter((r) => r.status === 'rejected').map((r) => String((r as PromiseRejectedResult).reason))).toEqual([]);
      expect([...replica1.retries, ...replica2.retries].filter((r) => r.endsWith(':conflict'))).toEqual([]);
      let total = 0n;
      for (const account of accounts) total += await balanceOf(pool, account);
      expect(total).toBe(3_000_000n);
      expect(await ledgerInvariants(pool)).toEqual(HEALTHY_LEDGER);
    } finally {
      await other.end();
    }
  });
});

describe('group commit failures', () => {
  it('isolates a request that makes the batch statement fail: the others complete on their own, it gets its own error', async () => {
    const { ops, batches } = observed();
    const [a, b] = await createAccounts(pool, 2, 10_000n);
    await pool.query(`
      CREATE FUNCTION bank.fail_amount_666() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.amount_minor = 666 THEN RAISE EXCEPTION 'injected failure for 666'; END IF;
        RETURN NEW;
      END $$;
      CREATE TRIGGER fail_amount_666 BEFORE INSERT ON bank.transfers FOR EACH ROW EXECUTE FUNCTION bank.fail_amount_666();`);
    try {
      const requests = [transfer(a!, b!, 100n), transfer(a!, b!, 200n), transfer(a!, b!, 666n), transfer(a!, b!, 300n), transfer(b!, a!, 50n)];
      const results = await together(ops, requests);

      expect(results.map(reasonOf)).toEqual(['ok', 'ok', 'other: injected failure for 666', 'ok', 'ok']);
      const poisoned = (results[2] as PromiseRejectedResult).reason;
      expect(poisoned).not.toBeInstanceOf(BankError);
      expect(toGrpcError(poisoned).code).toBe(Status.INTERNAL);
      // Halves, not one by one: [100, 200, 666] fails again -> [100, 200] commits, [666] alone fails; [300, 50] commits.
      expect(batches).toEqual([{ size: 5, outcome: 'split' }]);
      expect(await balanceOf(pool, a!)).toBe(10_000n - 600n + 50n);
      expect(await transfersWithKey(a!, requests[2]!.idempotencyKey)).toBe(0);
      // Each caller got its own transfer.
      expect(results.flatMap((r) => (r.status === 'fulfilled' ? [r.value.transfer.amountMinor] : []))).toEqual([100n, 200n, 300n, 50n]);
    } finally {
      await pool.query('DROP TRIGGER fail_amount_666 ON bank.transfers; DROP FUNCTION bank.fail_amount_666()');
    }
    expect(await ledgerInvariants(pool)).toEqual(HEALTHY_LEDGER);
  });

  it('gives a lone request its own error', async () => {
    const { ops, batches } = observed();
    const [a, b] = await createAccounts(pool, 2, 10_000n);
    await pool.query(`
      CREATE FUNCTION bank.fail_amount_667() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.amount_minor = 667 THEN RAISE EXCEPTION 'injected failure for 667'; END IF;
        RETURN NEW;
      END $$;
      CREATE TRIGGER fail_amount_667 BEFORE INSERT ON bank.transfers FOR EACH ROW EXECUTE FUNCTION bank.fail_amount_667();`);
    try {
      expect(((await rejection(ops.transferMoney(transfer(a!, b!, 667n), ADMIN))) as Error).message).toContain('injected failure for 667');
      expect(batches).toEqual([{ size: 1, outcome: 'single' }]);
    } finally {
      await pool.query('DROP TRIGGER fail_amount_667 ON bank.transfers; DROP FUNCTION bank.fail_amount_667()');
    }
    expect(await balanceOf(pool, a!)).toBe(10_000n);
  });

  it('costs one lock timeout per batch: the requests on a row locked elsewhere fail at once after it, the rest of the batch completes', async () => {
    const shortPool = testPool(db.url, { connectionsMax: 4, statementTimeoutMs: 300 });
    try {
      const { ops, batches } = observed({}, shortPool);
      const [locked, to, p, q] = await createAccounts(pool, 4, 10_000n);
      const blocker = await pool.connect();
      let results: Array<PromiseSettledResult<TransferResult>> = [];
      const onLockedRow = transfer(locked!, to!, 1n);
      try {
        await blocker.query('BEGIN');
        await blocker.query('SELECT 1 FROM bank.accounts WHERE id = $1 FOR UPDATE', [locked]);
        results = await together(ops, [onLockedRow, transfer(p!, q!, 2n), transfer(q!, to!, 3n)]);
      } finally {
        await blocker.query('ROLLBACK');
        blocker.release();
      }
      expect(results.map(reasonOf)).toEqual(['STORAGE_UNAVAILABLE', 'ok', 'ok']);
      expect(((results[0] as PromiseRejectedResult).reason as StorageUnavailableError).metadata).toEqual({ cause: 'timeout' });
      // One wait for the lock, then the batch once more without waiting (SKIP LOCKED): no request waits on its own.
      expect(batches).toEqual([{ size: 3, outcome: 'contended' }]);
      expect([await balanceOf(pool, locked!), await balanceOf(pool, to!)]).toEqual([10_000n, 10_003n]);
      // Nothing was bound to the key of the request that did not run: a retry executes it.
      expect((await ops.transferMoney(onLockedRow, ADMIN)).replayed).toBe(false);
    } finally {
      await shortPool.end();
    }
  });

  it('refuses a request with text the ledger cannot store before batching: the others commit in one batch', async () => {
    const { ops, batches } = observed();
    const [a, b] = await createAccounts(pool, 2, 10_000n);
    const nul = JSON.parse('"bad\\u0000text"') as string;
    const results = await together(ops, [transfer(a!, b!, 1n), transfer(a!, b!, 2n, { description: nul }), transfer(b!, a!, 3n)]);
    expect(results.map(reasonOf)).toEqual(['ok', 'INVALID_ARGUMENT', 'ok']);
    expect(toGrpcError((results[1] as PromiseRejectedResult).reason).code).toBe(Status.INVALID_ARGUMENT);
    expect(batches).toEqual([{ size: 2, outcome: 'committed' }]);
  });

  it('gives the transfers of one batch distinct created_at values, increasing in decision order', async () => {
    const { ops, batches } = observed();
    const [a, b, c] = await createAccounts(pool, 3, 10_000n);
    const requests = Array.from({ length: 20 }, (_, i) => transfer([a, b, c][i % 3]!, [b, c, a][i % 3]!, BigInt(i + 1)));
    const results = await together(ops, requests);
    expect(batches).toEqual([{ size: 20, outcome: 'committed' }]);
    const ids = results.map((r) => valueOf(r).transfer.id);
    const { rows } = await pool.query<{ id: string; created_at: Date }>('SELECT id, created_at FROM bank.transfers WHERE id = ANY($1)', [ids]);
    const createdAt = new Map(rows.map((r) => [r.id, r.created_at.getTime()]));
    const inDecisionOrder = ids.map((id) => createdAt.get(id)!);
    for (let i = 1; i < inDecisionOrder.length; i += 1) expect(inDecisionOrder[i]).toBeGreaterThan(inDecisionOrder[i - 1]!);
    // What the callers were told is what was stored.
    expect(results.map((r) => valueOf(r).transfer.createdAt.getTime())).toEqual(inDecisionOrder);
  });

  it('rejects a transfer naming the settlement account before any row lock: it does not wait on a deposit holding that row', async () => {
    const shortPool = testPool(db.url, { connectionsMax: 2, statementTimeoutMs: 300 });
    const shortOps = observed({}, shortPool).ops;
    const [customer] = await createAccounts(pool, 1, 10_000n);
    const blocker = await pool.connect();
    try {
      // As a deposit in progress does: the settlement row is locked.
      await blocker.query('BEGIN');
      await blocker.query(`SELECT 1 FROM bank.accounts WHERE id = '00000000-0000-0000-0000-000000000001' FOR UPDATE`);
      // A lock wait would end in the lock timeout (STORAGE_UNAVAILABLE), not ACCOUNT_NOT_FOUND.
      const results = await together(shortOps, [transfer(customer!, '00000000-0000-0000-0000-000000000001', 1n)]);
      expect(results.map(reasonOf)).toEqual(['ACCOUNT_NOT_FOUND']);
    } finally {
      await blocker.query('ROLLBACK');
      blocker.release();
      await shortPool.end();
    }
  });

  it('never locks a system account, even one validation does not know by id', async () => {
    const shortPool = testPool(db.url, { connectionsMax: 2, statementTimeoutMs: 300 });
    const shortOps = observed({}, shortPool).ops;
    const [customer] = await createAccounts(pool, 1, 10_000n);
    const system = '00000000-0000-0000-0000-0000000000f5';
    await pool.query(`INSERT INTO bank.accounts (id, kind, currency, balance_minor) VALUES ($1, 'settlement', 'USD', 0) ON CONFLICT DO NOTHING`, [system]);
    const blocker = await pool.connect();
    try {
      await blocker.query('BEGIN');
      await blocker.query('SELECT 1 FROM bank.accounts WHERE id = $1 FOR UPDATE', [system]);
      // A lock wait would end in the lock timeout (STORAGE_UNAVAILABLE), not ACCOUNT_NOT_FOUND.
      const results = await together(shortOps, [transfer(customer!, system, 1n)]);
      expect(results.map(reasonOf)).toEqual(['ACCOUNT_NOT_FOUND']);
    } finally {
      await blocker.query('ROLLBACK');
      blocker.release();
      await shortPool.end();
    }
  });

  it('sheds with UNAVAILABLE when the queue is full, and answers everything it accepted', async () => {
    const { ops } = observed({ groupCommit: { workers: 1, maxBatch: 1, queueMax: 3 } });
    const [a, b] = await createAccounts(pool, 2, 10_000n);
    // Hold the sender's row so the first batch cannot finish.
    const blocker = await pool.connect();
    let accepted: Array<Promise<TransferResult>> = [];
    try {
      await blocker.query('BEGIN');
      await blocker.query('SELECT 1 FROM bank.accounts WHERE id = $1 FOR UPDATE', [a]);
      accepted = [ops.transferMoney(transfer(a!, b!, 1n), ADMIN)];
      await waitFor(() => ops.transferQueueStats()?.batchesRunning === 1 && ops.transferQueueStats()?.queued === 0, { what: 'the first batch to start' });
      accepted.push(...[2n, 3n, 4n].map((amount) => ops.transferMoney(transfer(a!, b!, amount), ADMIN)));
      expect(ops.transferQueueStats()).toMatchObject({ queued: 3, batchesRunning: 1 });

      const shed = await rejection(ops.transferMoney(transfer(a!, b!, 5n), ADMIN));
      expect(shed).toBeInstanceOf(StorageUnavailableError);
      expect((shed as StorageUnavailableError).metadata).toEqual({ cause: 'overloaded' });
      const grpc = toGrpcError(shed);
      expect(grpc.code).toBe(Status.UNAVAILABLE);
      expect(grpc.message).toContain('storage unavailable');
    } finally {
      await blocker.query('ROLLBACK');
      blocker.release();
    }
    const results = await Promise.all(accepted);
    expect(results.map((r) => r.transfer.amountMinor)).toEqual([1n, 2n, 3n, 4n]);
    expect(await balanceOf(pool, a!)).toBe(10_000n - 10n);
  });

  it('on close, finishes the running batch and sheds queued and later transfers unexecuted', async () => {
    const { ops } = observed({ groupCommit: { workers: 1 } });
    const [a, b] = await createAccounts(pool, 2, 10_000n);
    const blocker = await pool.connect();
    let running: Promise<TransferResult> | undefined;
    let closed: Promise<void> | undefined;
    const queued = transfer(a!, b!, 2n);
    try {
      await blocker.query('BEGIN');
      await blocker.query('SELECT 1 FROM bank.accounts WHERE id = $1 FOR UPDATE', [a]);
      running = ops.transferMoney(transfer(a!, b!, 1n), ADMIN);
      await waitFor(() => ops.transferQueueStats()?.batchesRunning === 1, { what: 'the first batch to start' });
      const shed = rejection(ops.transferMoney(queued, ADMIN));
      closed = ops.close();
      expect(await shed).toBeInstanceOf(StorageUnavailableError);
      expect(await rejection(ops.transferMoney(transfer(a!, b!, 3n), ADMIN))).toBeInstanceOf(StorageUnavailableError);
    } finally {
      await blocker.query('ROLLBACK');
      blocker.release();
    }
    expect((await running!).replayed).toBe(false);
    await closed;
    expect(await transfersWithKey(a!, queued.idempotencyKey)).toBe(0);
    expect(await balanceOf(pool, a!)).toBe(9_999n);
  });
});

describe('without group commit', () => {
  it('runs each transfer in its own transaction, with the same idempotency', async () => {
    const { ops, batches } = observed({ groupCommit: { enabled: false } });
    const [a, b] = await createAccounts(pool, 2, 1_000n);
    const request = transfer(a!, b!, 10n);
    const results = await together(ops, [request, transfer(a!, b!, 20n)]);
    expect(results.map(reasonOf)).toEqual(['ok', 'ok']);
    expect((await ops.transferMoney(request, ADMIN)).replayed).toBe(true);
    expect(batches).toEqual([]);
    expect(ops.transferQueueStats()).toBeUndefined();
    expect(await balanceOf(pool, a!)).toBe(970n);
  });
});
