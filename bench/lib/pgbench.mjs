// The raw-SQL ceiling: the transfer transaction of the bank-service written
// as plain SQL and driven by pgbench (C, many connections) against the same
// PostgreSQL, in the same run.
//
// It runs on a mirror of the bank's tables (schema bench_ceiling, created
// from the live bank tables: same columns, CHECKs, indexes, identity,
// foreign keys), so the rows it writes never reach the bank's outbox relay,
// Kafka or the history. Mirror account ids are deterministic
// (00000000-0000-4000-8000-<n, 12 digits>), so pgbench can address account n
// without a lookup. (No colon may appear in a string literal of the script:
// pgbench would read ":name" as a variable.)
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { newHistogram, latencySummary, round } from './closed-loop.mjs';

const SCHEMA = 'bench_ceiling';
const TABLES = ['accounts', 'transfers', 'deposits', 'ledger_entries', 'outbox'];
/** Balance of every mirror account: large, so no transfer of the run fails for funds. */
const MIRROR_BALANCE_MINOR = 100_000_000_000n;

/** Finds pgbench; on Debian/Ubuntu as root, installs postgresql-client when it is missing. */
export function findPgbench({ install = true, log = () => {} } = {}) {
  const candidates = [process.env.PGBENCH, '/usr/bin/pgbench', ...pathCandidates()].filter(Boolean);
  for (const path of candidates) if (existsSync(path)) return path;
  const root = typeof process.getuid === 'function' && process.getuid() === 0;
  if (install && root && existsSync('/usr/bin/apt-get')) {
    log('pgbench not found: installing postgresql-client with apt-get');
    spawnSync('apt-get', ['update'], { stdio: 'ignore', timeout: 300_000 });
    const res = spawnSync('apt-get', ['install', '-y', '--no-install-recommends', 'postgresql-client'], {
      stdio: 'ignore',
      timeout: 300_000,
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
    if (res.status === 0 && existsSync('/usr/bin/pgbench')) return '/usr/bin/pgbench';
  }
  return undefined;
}

function pathCandidates() {
  return (process.env.PATH ?? '').split(':').map((dir) => join(dir, 'pgbench'));
}

export function pgbenchVersion(path) {
  try {
    return execFileSync(path, ['--version'], { encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}

/** Creates schema bench_ceiling as a structural copy of the bank tables, with `accounts` accounts. */
export async function prepareMirror(databaseUrl, accounts) {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS ${SCHEMA} CASCADE`);
    await client.query(`CREATE SCHEMA ${SCHEMA}`);
    for (const table of TABLES) {
      await client.query(`CREATE TABLE ${SCHEMA}.${table} (LIKE bank.${table} INCLUDING ALL)`);
    }
    // Serial defaults copied by LIKE still point at the bank's sequences: give the mirror its own.
    const { rows: serials } = await client.query(
      `SELECT table_name, column_name FROM information_schema.columns
        WHERE table_schema = $1 AND column_default LIKE 'nextval(%'`,
      [SCHEMA],
    );
    for (const { table_name: table, column_name: column } of serials) {
      const seq = `${SCHEMA}.${table}_${column}_seq`;
      await client.query(`CREATE SEQUENCE ${seq} OWNED BY ${SCHEMA}.${table}.${column}`);
      await client.query(`ALTER TABLE ${SCHEMA}.${table} ALTER COLUMN ${column} SET DEFAULT nextval('${seq}')`);
    }
    // LIKE copies no foreign keys: recreate them, pointing into the mirror.
    const { rows: fks } = await client.query(
      `SELECT c.conname, t.relname, pg_get_constraintdef(c.oid) AS def
         FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid JOIN pg_namespace n ON n.oid = t.relnamespace
        WHERE n.nspname = 'bank' AND c.contype = 'f' AND t.relname = ANY($1)`,
      [TABLES],
    );
    // A key into a bank table the mirror does not copy (e.g. a transfer's hold, bank.holds) is left out:
    // the ceiling's transaction never writes that column.
    const mirrored = fks.filter((fk) => TABLES.includes(/REFERENCES (?:bank\.)?"?(\w+)"?/.exec(fk.def)?.[1] ?? ''));
    for (const fk of mirrored) {
      const def = fk.def.replace(/REFERENCES (bank\.)?/g, `REFERENCES ${SCHEMA}.`);
      await client.query(`ALTER TABLE ${SCHEMA}.${fk.relname} ADD CONSTRAINT ${fk.conname} ${def}`);
    }
    // LIKE copies no triggers either: the bank's own (the ledger's hash chain, ADR 0019) run on the
    // mirror too, their functions recreated with the schema swapped, so the ceiling pays what a transfer pays.
    const { rows: triggers } = await client.query(
      `SELECT pg_get_triggerdef(tg.oid) AS def, pg_get_functiondef(tg.tgfoid) AS fn
         FROM pg_trigger tg JOIN pg_class t ON t.oid = tg.tgrelid JOIN pg_namespace n ON n.oid = t.relnamespace
        WHERE n.nspname = 'bank' AND NOT tg.tgisinternal AND t.relname = ANY($1)`,
      [TABLES],
    );
    for (const trigger of triggers) {
      await client.query(trigger.fn.replace(/\bbank\./g, `${SCHEMA}.`));
      await client.query(trigger.def.replace(/\bbank\./g, `${SCHEMA}.`));
    }
    await client.query(
      `INSERT INTO ${SCHEMA}.accounts (id, kind, currency, balance_minor, version)
       SELECT ('00000000-0000-4000-8000-' || lpad(n::text, 12, '0'))::uuid, 'customer', 'USD', $2::bigint, 1
         FROM generate_series(1, $1::int) AS n`,
      [accounts, MIRROR_BALANCE_MINOR.toString()],
    );
    await client.query(`ANALYZE ${SCHEMA}.accounts`);
    return { schema: SCHEMA, tables: TABLES, foreignKeys: mirrored.length, foreignKeysLeftOut: fks.length - mirrored.length, triggers: triggers.length };
  } finally {
    await client.end();
  }
}

/** Drops the mirror and flushes dirty buffers, so what runs next does not pay for the ceiling's writes. */
export async function dropMirror(databaseUrl) {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS ${SCHEMA} CASCADE`);
    await client.query('CHECKPOINT');
  } finally {
    await client.end();
  }
}

/** CHECKPOINT: every phase starts without the previous phase's dirty buffers to flush. */
export async function checkpoint(databaseUrl) {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await client.query('CHECKPOINT');
  } catch {
    // needs superuser or pg_checkpoint; the bench owns its server, a --url target may not allow it
  } finally {
    await client.end();
  }
}

const uuidOf = (variable) => `('00000000-0000-4000-8000-' || lpad(:${variable}::text, 12, '0'))::uuid`;

/**
 * The transaction, statement by statement: the bank-service's work in plain
 * SQL. Idempotency advisory lock and lookup, both account rows locked in id
 * order, debit (guarded: never below zero), credit, the transfer row, its two
 * ledger entries, its two outbox events (same JSON shape as the real ones).
 * `mode` picks who is sender and recipient.
 */
export function transferScript(mode) {
  const pick = {
    uniform: ['\\set s random(1, :naccounts)', '\\set d random(1, :naccounts - 1)', '\\set r 1 + (:s - 1 + :d) % :naccounts'],
    'hot-sender': ['\\set s 1', '\\set r random(2, :naccounts)'],
    'hot-recipient': ['\\set r 1', '\\set s random(2, :naccounts)'],
  }[mode];
  if (!pick) throw new Error(`unknown pgbench mode ${mode}`);
  const sender = uuidOf('s');
  const recipient = uuidOf('r');
  const event = (type, account, counterparty) =>
    `(${account}, '${type}', jsonb_build_object('eventId', gen_random_uuid(), 'eventType', '${type}', 'schemaVersion', 1,
        'occurredAt', to_json(now()) #>> '{}', 'accountId', ${account},
        'counterpartyAccountId', ${counterparty}, 'transferId', :tid::uuid, 'amount', to_char(:amount::bigint / 100.0, 'FM0.00'),
        'currency', 'USD'), now())`;
  return `-- Generated by bench/lib/pgbench.mjs (${mode}): the transfer transaction as plain SQL.
${pick.join('\n')}
\\set amount random(1, 99)
\\set k random(1, 9000000000000000000)
BEGIN;
SELECT pg_try_advisory_xact_lock(:k::bigint);
SELECT id, balance_minor, version FROM ${SCHEMA}.accounts
 WHERE id IN (${sender}, ${recipient})
   AND NOT EXISTS (SELECT 1 FROM ${SCHEMA}.transfers WHERE sender_account_id = ${sender} AND idempotency_key = 'k' || :k::text)
 ORDER BY id FOR UPDATE;
UPDATE ${SCHEMA}.accounts SET balance_minor = balance_minor - :amount::bigint, version = version + 1, updated_at = now()
 WHERE id = ${sender} AND balance_minor >= :amount::bigint RETURNING balance_minor AS sbal \\gset
UPDATE ${SCHEMA}.accounts SET balance_minor = balance_minor + :amount::bigint, version = version + 1, updated_at = now()
 WHERE id = ${recipient} RETURNING balance_minor AS rbal \\gset
INSERT INTO ${SCHEMA}.transfers (id, sender_account_id, recipient_account_id, amount_minor, currency, status, description,
                                 idempotency_key, request_hash, created_at)
VALUES (gen_random_uuid(), ${sender}, ${recipient}, :amount::bigint, 'USD', 'completed', 'bench', 'k' || :k::text,
        md5(:k::text), now()) RETURNING id AS tid \\gset
INSERT INTO ${SCHEMA}.ledger_entries (account_id, amount_minor, balance_after_minor, entry_type, transfer_id, created_at)
VALUES (${sender}, -(:amount::bigint), :sbal::bigint, 'transfer', :tid::uuid, now()), (${recipient}, :amount::bigint, :rbal::bigint, 'transfer', :tid::uuid, now());
INSERT INTO ${SCHEMA}.outbox (account_id, event_type, payload, created_at)
VALUES ${event('transfer_out', sender, recipient)},
       ${event('transfer_in', recipient, sender)};
COMMIT;
`;
}

/**
 * Runs pgbench for durationS with `clients` connections; returns throughput
 * (committed transactions/s, failures excluded) and latency percentiles from
 * pgbench's per-transaction log.
 * @param {{ pgbench: string, databaseUrl: string, mode: string, clients: number, durationS: number, accounts: number, workDir: string, onPid?: (pid: number) => void }} options
 */
export async function runPgbench({ pgbench, databaseUrl, mode, clients, durationS, accounts, workDir, onPid }) {
  const url = new URL(databaseUrl);
  const dir = join(workDir, `pgbench-${mode}-c${clients}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const script = join(dir, 'transfer.sql');
  writeFileSync(script, transferScript(mode));
  const threads = Math.min(clients, 2);
  const args = [
    '-h', url.hostname, '-p', url.port || '5432', '-U', decodeURIComponent(url.username),
    '-n', '-M', 'prepared', '-c', String(clients), '-j', String(threads), '-T', String(durationS),
    '-D', `naccounts=${accounts}`, '-f', script, '-l', `--log-prefix=${join(dir, 'tx')}`,
    url.pathname.slice(1),
  ];
  const env = { ...process.env, PGPASSWORD: decodeURIComponent(url.password), PGAPPNAME: 'bench-pgbench' };
  // The local server requires TLS (scripts/lib/postgres.mjs): libpq reads the URL's sslmode/sslrootcert from these.
  if (url.searchParams.has('sslmode')) env.PGSSLMODE = url.searchParams.get('sslmode');
  if (url.searchParams.has('sslrootcert')) env.PGSSLROOTCERT = url.searchParams.get('sslrootcert');
  const { stdout, stderr, code } = await new Promise((resolve) => {
    const child = spawn(pgbench, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    onPid?.(child.pid);
    let out = '';
    let err = '';
    child.stdout.on('data', (c) => (out += c));
    child.stderr.on('data', (c) => (err += c));
    const timer = setTimeout(() => child.kill('SIGKILL'), (durationS + 60) * 1000);
    child.on('exit', (exitCode) => {
      clearTimeout(timer);
      resolve({ stdout: out, stderr: err, code: exitCode });
    });
  });
  writeFileSync(join(dir, 'pgbench.out'), `${stdout}\n${stderr}`);
  const committed = Number(/number of transactions actually processed: (\d+)/.exec(stdout)?.[1] ?? NaN);
  const failed = Number(/number of failed transactions: (\d+)/.exec(stdout)?.[1] ?? 0);
  const tps = Number(/tps = ([\d.]+) \(without initial connection time\)/.exec(stdout)?.[1] ?? NaN);
  if (code !== 0 || !Number.isFinite(tps)) {
    throw new Error(`pgbench ${mode} -c ${clients} failed (exit ${code}):\n${(stderr || stdout).slice(-2000)}`);
  }
  // Per-transaction log: "client tx_no latency_us script_no epoch_s epoch_us"; failed ones are marked "failed".
  const histogram = newHistogram();
  for (const file of readdirSync(dir).filter((f) => f.startsWith('tx'))) {
    for (const line of readFileSync(join(dir, file), 'utf8').split('\n')) {
      const parts = line.split(' ');
      const latencyUs = Number(parts[2]);
      if (parts.length >= 6 && Number.isFinite(latencyUs) && latencyUs > 0) histogram.recordValue(latencyUs);
    }
    rmSync(join(dir, file));
  }
  return {
    mode,
    clients,
    durationS,
    ok: committed,
    completed: committed + failed,
    errors: failed,
    throughputPerS: round(tps, 1),
    latency: latencySummary(histogram),
    histogram,
    scriptPath: script,
  };
}
