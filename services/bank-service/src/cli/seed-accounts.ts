// `node dist/cli/seed-accounts.js --count 10000 [--balance 1000.00] [--currency USD] [--out ids.txt]
//    [--owners sub1,sub2 | --owners-file subs.txt] [--format lines|jsonl]`
// Creates N funded customer accounts (opening entries against the settlement
// account) and prints their ids, one per line (or, with --format jsonl, one
// {"accountId","ownerId"} object per line), or writes them to --out. Owners
// (issuer subjects, e.g. user ids the identity-service returned) are assigned
// round-robin, so a load test can log in as them.
import { createWriteStream, readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { ConfigError, isCurrencyCode, parseAmountMinor } from '@wallet/platform';
import { pino } from 'pino';
import { loadBankSettings } from '../config.js';
import { createPool } from '@wallet/platform/db';
import { SEED_COUNT_MAX, SEED_OWNERS_MAX, seedAccounts } from './seed.js';

const { values } = parseArgs({
  options: {
    count: { type: 'string', default: '100' },
    balance: { type: 'string', default: '1000.00' },
    currency: { type: 'string', default: 'USD' },
    out: { type: 'string' },
    owners: { type: 'string' },
    'owners-file': { type: 'string' },
    format: { type: 'string', default: 'lines' },
    help: { type: 'boolean', default: false },
  },
});
if (values.help) {
  console.log(
    'usage: seed-accounts --count N [--balance 1000.00] [--currency USD] [--out file] [--owners sub1,sub2 | --owners-file file] [--format lines|jsonl]',
  );
  process.exit(0);
}

function usageError(message: string): never {
  console.error(`seed-accounts: ${message}`);
  process.exit(2);
}

function loadSettings(): ReturnType<typeof loadBankSettings> {
  try {
    return loadBankSettings();
  } catch (error) {
    // A configuration problem names the variable (never a secret's value); exit 2 like the service.
    if (error instanceof ConfigError) usageError(error.message);
    throw error;
  }
}

const config = loadSettings();
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
if (values.format !== 'lines' && values.format !== 'jsonl') usageError(`--format must be lines or jsonl, not ${values.format}`);
if (values.owners !== undefined && values['owners-file'] !== undefined) usageError('give --owners or --owners-file, not both');

/** Owner subjects: a comma list, or a file with one per line (blank lines ignored). */
function readOwners(): string[] {
  let text: string | undefined = values.owners;
  const file = values['owners-file'];
  if (file !== undefined) {
    try {
      text = readFileSync(file, 'utf8');
    } catch (error) {
      usageError(`--owners-file ${file}: ${(error as Error).message}`);
    }
  }
  if (text === undefined) return [];
  const owners = text.split(file !== undefined ? /\r?\n/ : ',').map((owner) => owner.trim()).filter((owner) => owner !== '');
  if (owners.length === 0) usageError('no owner given');
  if (owners.length > SEED_OWNERS_MAX) usageError(`at most ${SEED_OWNERS_MAX} owners`);
  const bad = owners.find((owner) => [...owner].length > 255 || owner.includes('\0'));
  if (bad !== undefined) usageError('owner ids must be 1-255 characters without NUL');
  return owners;
}
const ownerIds = readOwners();

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
    ownerIds,
    onBatch: (ids, owners) =>
      out.write(
        values.format === 'jsonl'
          ? `${ids.map((accountId, i) => JSON.stringify({ accountId, ownerId: owners[i] ?? null })).join('\n')}\n`
          : `${ids.join('\n')}\n`,
      ),
  });
  logger.info({ created, owners: ownerIds.length, balance: values.balance, elapsedMs: Date.now() - startedAt, out: values.out }, 'accounts seeded');
} catch (error) {
  logger.fatal({ err: error }, 'seeding failed');
  process.exitCode = 1;
} finally {
  await pool.end();
  if (out !== process.stdout) await new Promise<void>((resolve) => (out as NodeJS.WritableStream).end(resolve));
}
