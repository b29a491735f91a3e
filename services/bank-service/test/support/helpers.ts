// Shared helpers of the bank-service tests: a migrated throw-away database,
// a pool, accounts, and the ledger invariants every test can assert.
import { readFileSync } from 'node:fs';
import { contractPaths } from '@wallet/contracts';
import { BankServiceClient } from '@wallet/contracts/bank';
import { createGrpcClient, createLogger, type Logger } from '@wallet/platform';
import { createTestDatabase, type TestDatabase } from '@wallet/testkit';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import type pg from 'pg';
import { BankOperations, type BankOperationsOptions } from '../../src/app/operations.js';
import { seedAccounts } from '../../src/cli/seed.js';
import { loadBankConfig, type BankConfig } from '../../src/config.js';
import { migrateBank } from '../../src/db/migrations.js';
import { createPool } from '@wallet/platform/db';
import { testClientTransport, testTlsEnv, type ServiceName } from '../../../../test/support/pki.js';

export const silentLogger: Logger = createLogger('bank-service-test', process.env.TEST_LOG_LEVEL ?? 'silent');

export const SETTLEMENT = '00000000-0000-0000-0000-000000000001';
export const ALICE = '123e4567-e89b-12d3-a456-426614174000';
export const BOB = '987e6543-e21b-34d3-c456-426614174999';

export async function createMigratedDatabase(prefix: string): Promise<TestDatabase> {
  const db = await createTestDatabase(prefix);
  await migrateBank({ databaseUrl: db.url, logger: silentLogger });
  return db;
}

export function testPool(url: string, overrides: Partial<Parameters<typeof createPool>[0]> = {}): pg.Pool {
  return createPool(
    {
      connectionString: url,
      connectionsMax: 10,
      // Generous: these tests assert invariants, not latency, and share a
      // loaded machine; the timeout paths have their own tests (resilience).
      connectTimeoutMs: 60_000,
      statementTimeoutMs: 30_000,
      idleInTransactionTimeoutMs: 60_000,
      applicationName: 'bank-service-test',
      ...overrides,
    },
    silentLogger,
  );
}

export function testOperations(pool: pg.Pool, options: Partial<BankOperationsOptions> = {}): BankOperations {
  return new BankOperations({
    pool,
    logger: silentLogger,
    limits: { maxTransferAmountMinor: 100_000_000n, maxDepositAmountMinor: 100_000_000n },
    poolWaitingMax: 10_000,
    ...options,
  });
}

/** The bank's config for an in-process service: its own certificate (mutual TLS, as in production), ephemeral ports. */
export async function testConfig(databaseUrl: string, env: Record<string, string> = {}): Promise<BankConfig> {
  return loadBankConfig({
    ...(await testTlsEnv('bank-service')),
    DATABASE_URL: databaseUrl,
    BANK_GRPC_PORT: '0',
    BANK_OPS_PORT: '0',
    LOG_LEVEL: 'silent',
    BANK_DATABASE_CONNECT_TIMEOUT_MS: '5000',
    ...env,
  });
}

/** A client of the bank on `grpcPort` presenting the certificate of `as` (the gateway by default; deposits come from the card adapter). */
export async function bankClient(grpcPort: number, as: ServiceName = 'api-gateway'): Promise<BankServiceClient> {
  return createGrpcClient(BankServiceClient, `127.0.0.1:${grpcPort}`, await testClientTransport('bank-service', as));
}

/** Creates funded customer accounts through the same bulk path as the seed CLI. */
export async function createAccounts(pool: pg.Pool, count: number, balanceMinor: bigint): Promise<string[]> {
  const ids: string[] = [];
  await seedAccounts(pool, { count, balanceMinor, currency: 'USD', onBatch: (batch) => ids.push(...batch) });
  return ids;
}

export async function balanceOf(pool: pg.Pool, accountId: string): Promise<bigint> {
  const { rows } = await pool.query<{ balance_minor: bigint }>('SELECT balance_minor FROM bank.accounts WHERE id = $1', [accountId]);
  return rows[0]!.balance_minor;
}

export async function countRows(pool: pg.Pool, table: 'transfers' | 'deposits' | 'ledger_entries' | 'outbox'): Promise<bigint> {
  const { rows } = await pool.query<{ n: bigint }>(`SELECT count(*) AS n FROM bank.${table}`);
  return rows[0]!.n;
}

export interface LedgerInvariants {
  /** Sum of every balance, settlement included: always 0. */
  balanceSum: bigint;
  /** Sum of every ledger entry: always 0 (double entry). */
  entrySum: bigint;
  negativeCustomerAccounts: number;
  /** Accounts whose entries do not sum to their balance. */
  accountsOutOfBalance: number;
  /** Accounts whose latest entry's balance_after differs from the balance. */
  accountsWithWrongBalanceAfter: number;
  /** Transfers/deposits without exactly one debit and one credit of the amount. */
  unbalancedMovements: number;
}

export async function ledgerInvariants(pool: pg.Pool): Promise<LedgerInvariants> {
  const { rows } = await pool.query<{
    balance_sum: string;
    entry_sum: string;
    negative: bigint;
    out_of_balance: bigint;
    wrong_after: bigint;
    unbalanced: bigint;
  }>(`
    SELECT
      (SELECT coalesce(sum(balance_minor), 0)::text FROM bank.accounts) AS balance_sum,
      (SELECT coalesce(sum(amount_minor), 0)::text FROM bank.ledger_entries) AS entry_sum,
      (SELECT count(*) FROM bank.accounts WHERE kind = 'customer' AND balance_minor < 0) AS negative,
      (SELECT count(*) FROM bank.accounts a
        WHERE a.balance_minor <> (SELECT coalesce(sum(amount_minor), 0) FROM bank.ledger_entries e WHERE e.account_id = a.id)) AS out_of_balance,
      (SELECT count(*) FROM bank.accounts a
        WHERE a.balance_minor <> coalesce((SELECT balance_after_minor FROM bank.ledger_entries e WHERE e.account_id = a.id
                                            ORDER BY id DESC LIMIT 1), 0)) AS wrong_after,
      (SELECT count(*) FROM bank.transfers t
        WHERE (SELECT count(*) FROM bank.ledger_entries e WHERE e.transfer_id = t.id) <> 2
           OR NOT EXISTS (SELECT 1 FROM bank.ledger_entries e WHERE e.transfer_id = t.id AND e.account_id = t.sender_account_id AND e.amount_minor = -t.amount_minor)
           OR NOT EXISTS (SELECT 1 FROM bank.ledger_entries e WHERE e.transfer_id = t.id AND e.account_id = t.recipient_account_id AND e.amount_minor = t.amount_minor))
      + (SELECT count(*) FROM bank.deposits d
        WHERE (SELECT count(*) FROM bank.ledger_entries e WHERE e.deposit_id = d.id) <> 2
           OR NOT EXISTS (SELECT 1 FROM bank.ledger_entries e WHERE e.deposit_id = d.id AND e.account_id = d.account_id AND e.amount_minor = d.amount_minor)) AS unbalanced
  `);
  const row = rows[0]!;
  return {
    balanceSum: BigInt(row.balance_sum),
    entrySum: BigInt(row.entry_sum),
    negativeCustomerAccounts: Number(row.negative),
    accountsOutOfBalance: Number(row.out_of_balance),
    accountsWithWrongBalanceAfter: Number(row.wrong_after),
    unbalancedMovements: Number(row.unbalanced),
  };
}

export const HEALTHY_LEDGER: LedgerInvariants = {
  balanceSum: 0n,
  entrySum: 0n,
  negativeCustomerAccounts: 0,
  accountsOutOfBalance: 0,
  accountsWithWrongBalanceAfter: 0,
  unbalancedMovements: 0,
};

// ajv-formats is CommonJS; its default export arrives wrapped under ESM.
type AddFormats = (ajv: Ajv2020) => Ajv2020;
const addFormats = ((addFormatsModule as unknown as { default?: AddFormats }).default ?? addFormatsModule) as unknown as AddFormats;

/** Validators for the Kafka event contracts (JSON Schema 2020-12). */
export function eventValidators() {
  const ajv = new Ajv2020({ allErrors: true, strict: true });
  addFormats(ajv);
  const load = (path: string) => JSON.parse(readFileSync(path, 'utf8')) as object;
  return {
    transfer: ajv.compile(load(contractPaths.transferEventSchema)),
    topup: ajv.compile(load(contractPaths.topUpEventSchema)),
  };
}

/** Asserts that a promise rejects and returns the error (for checking its class and details). */
export async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected the promise to reject');
}
