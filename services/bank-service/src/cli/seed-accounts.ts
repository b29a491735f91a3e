// `node dist/cli/seed-accounts.js --count 10000 [--balance 1000.00] [--currency USD] [--out ids.txt]`
// Creates N funded customer accounts (opening entries against the settlement
// account) and prints their ids, one per line, or writes them to --out.
import { createWriteStream } from 'node:fs';
import { parseArgs } from 'node:util';
import { isCurrencyCode, parseAmountMinor } from '@wallet/platform';
import { pino } from 'pino';
import { loadBankConfig } from '../config.js';
import { createPool } from '@wallet/platform/db';
import { SEED_COUNT_MAX, seedAccounts } from './seed.js';

const { values } = parseArgs({
  options: {
    count: { type: 'string', default: '100' },
    balance: { type: 'string', default: '1000.00' },
    currency: { type: 'string', default: 'USD' },
    out: { type: 'string' },
    help: { type: 'boolean', default: false },
  },
});
if (values.help) {
  console.log('usage: seed-accounts --count N [--balance 1000.00] [--currency USD] [--out file]');
  process.exit(0);
}

function usageError(message: string): never {
  console.error(`seed-accounts: ${message}`);
  process.exit(2);
}

const config = loadBankConfig();
// Logs go to stderr: stdout carries the account ids.
const logger = pino({ base: { service: 'bank-service-seed' }, level: config.LOG_LEVEL }, pino.destination(2));
const count = Number(values.count);
if (!Number.isInteger(count) || count < 1 || count > SEED_COUNT_MAX) usageError(`--count must be an integer 1-${SEED_COUNT_MAX}`);
let balanceMinor: bigint;
try {
  balanceMinor = parseAmountMinor(values.balance);
} catch {
  usageError(`--balance ${values.balance} is not an amount with at most two decimals, e.g. 1000.00`);
}
if (!isCurrencyCode(values.currency)) usageError(`--currency ${values.currency} is not an ISO 4217 code`);

const pool = createPool(
  {
    connectionString: config.DATABASE_URL,
    connectionsMax: 1,
    connectTimeoutMs: config.BANK_DATABASE_CONNECT_TIMEOUT_MS,
    // Bulk batches may take longer than a request does.
    statementTimeoutMs: Math.max(config.BANK_DATABASE_STATEMENT_TIMEOUT_MS, 120_000),
    idleInTransactionTimeoutMs: config.BANK_DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS,
    applicationName: 'bank-service-seed',
  },
  logger,
);
const out = values.out ? createWriteStream(values.out) : process.stdout;
try {
  const startedAt = Date.now();
  const created = await seedAccounts(pool, {
    count,
    balanceMinor,
    currency: values.currency,
    onBatch: (ids) => out.write(`${ids.join('\n')}\n`),
  });
  logger.info({ created, balance: values.balance, elapsedMs: Date.now() - startedAt, out: values.out }, 'accounts seeded');
} catch (error) {
  logger.fatal({ err: error }, 'seeding failed');
  process.exitCode = 1;
} finally {
  await pool.end();
  if (out !== process.stdout) await new Promise<void>((resolve) => (out as NodeJS.WritableStream).end(resolve));
}
