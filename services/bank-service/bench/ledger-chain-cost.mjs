#!/usr/bin/env node
// What the ledger hash chain (ADR 0019, trigger ledger_entries_chain) costs on
// the transfer hot path: batches written like the group commit writes them
// (lock the rows in id order, update balances, insert the transfers, their
// 2 entries per transfer from unnest in ONE statement, the outbox rows;
// COMMIT), A/B with the trigger enabled and disabled, interleaved rounds
// (on, off, on, off...) so machine load hits both alike. Measures the
// PostgreSQL backend's CPU (utime+stime of its process, /proc: Linux, server
// on this machine) and the wall time per transfer. Not part of `npm test`.
//   DATABASE_URL=postgres://... node services/bank-service/bench/ledger-chain-cost.mjs \
//     [--transfers 20000] [--batch 32] [--rounds 6] [--accounts 1000] [--hot]
// Use a THROW-AWAY database with the bank's migrations applied (schema bank):
// it creates its own accounts, drops NOT NULL on entry_hash (the unchained
// arm writes none) and leaves both; the trigger is re-enabled whatever happens.
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import pg from 'pg';

const { values } = parseArgs({
  options: {
    transfers: { type: 'string', default: '20000' },
    batch: { type: 'string', default: '32' },
    rounds: { type: 'string', default: '6' },
    accounts: { type: 'string', default: '1000' },
    hot: { type: 'boolean', default: false },
  },
});
const transfersPerRound = Number(values.transfers);
const batchSize = Number(values.batch);
const rounds = Number(values.rounds);
const accountCount = Number(values.accounts);
if (!process.env.DATABASE_URL) throw new Error('DATABASE_URL is required');
const TICKS_PER_SECOND = 100; // USER_HZ on Linux

const client = new pg.Client({ connectionString: process.env.DATABASE_URL });
await client.connect();

async function createAccounts() {
  const ids = Array.from({ length: accountCount }, () => randomUUID()).sort();
  await client.query('BEGIN');
  await client.query(
    `INSERT INTO bank.accounts (id, kind, currency, balance_minor) SELECT id, 'customer', 'USD', 1000000000 FROM unnest($1::uuid[]) AS id`,
    [ids],
  );
  await client.query(
    `INSERT INTO bank.ledger_entries (account_id, amount_minor, balance_after_minor, entry_type) SELECT id, 1000000000, 1000000000, 'opening' FROM unnest($1::uuid[]) AS id`,
    [ids],
  );
  // Opening money from the settlement account keeps the ledger balanced.
  await client.query(
    `WITH s AS (SELECT balance_minor FROM bank.accounts WHERE id = '00000000-0000-0000-0000-000000000001' FOR UPDATE)
     INSERT INTO bank.ledger_entries (account_id, amount_minor, balance_after_minor, entry_type)
     SELECT '00000000-0000-0000-0000-000000000001', -1000000000::bigint * $1, (SELECT balance_minor FROM s) - 1000000000::bigint * $1, 'opening'`,
    [accountCount],
  );
  await client.query(`UPDATE bank.accounts SET balance_minor = balance_minor - 1000000000::bigint * $1 WHERE id = '00000000-0000-0000-0000-000000000001'`, [accountCount]);
  await client.query('COMMIT');
  return ids;
}

const WRITE_SQL = `
WITH locked AS MATERIALIZED (
  SELECT id, balance_minor FROM bank.accounts WHERE id = ANY ($1::uuid[]) ORDER BY id FOR UPDATE
), tr AS (
  INSERT INTO bank.transfers (id, sender_account_id, recipient_account_id, amount_minor, currency, description, idempotency_key, request_hash)
  SELECT id, s, r, 1, 'USD', '', id::text, 'x' FROM unnest($2::uuid[], $3::uuid[], $4::uuid[]) AS t (id, s, r)
  RETURNING id
), le AS (
  INSERT INTO bank.ledger_entries (account_id, amount_minor, balance_after_minor, entry_type, transfer_id)
  SELECT a, m, 0, 'transfer', t FROM unnest($5::uuid[], $6::bigint[], $7::uuid[]) WITH ORDINALITY AS x (a, m, t, n) ORDER BY n
  RETURNING id
), ob AS (
  INSERT INTO bank.outbox (account_id, event_type, payload)
  SELECT a, CASE WHEN m < 0 THEN 'transfer_out' ELSE 'transfer_in' END, '{}'::jsonb FROM unnest($5::uuid[], $6::bigint[]) AS x (a, m)
  RETURNING id
)
UPDATE bank.accounts a SET balance_minor = a.balance_minor + d.delta, version = a.version + 1, updated_at = now()
  FROM (SELECT a AS id, sum(m) AS delta FROM unnest($5::uuid[], $6::bigint[]) AS x (a, m) GROUP BY a) AS d
 WHERE a.id = d.id AND (SELECT count(*) FROM locked) > 0 AND (SELECT count(*) FROM tr) > 0 AND (SELECT count(*) FROM le) > 0 AND (SELECT count(*) FROM ob) > 0`;

async function backendCpuTicks(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return Number(fields[11]) + Number(fields[12]); // utime + stime (fields 14, 15 of stat)
}

function batchOf(ids) {
  const transfers = Array.from({ length: batchSize }, () => {
    const sender = ids[Math.floor(Math.random() * ids.length)];
    let recipient = values.hot ? ids[0] : ids[Math.floor(Math.random() * ids.length)];
    if (recipient === sender) recipient = ids[(ids.indexOf(sender) + 1) % ids.length];
    return { id: randomUUID(), sender, recipient };
  });
  const entries = transfers.flatMap((t) => [
    { account: t.sender, amount: '-1', transfer: t.id },
    { account: t.recipient, amount: '1', transfer: t.id },
  ]);
  const accounts = [...new Set(entries.map((e) => e.account))].sort();
  return [accounts, transfers.map((t) => t.id), transfers.map((t) => t.sender), transfers.map((t) => t.recipient), entries.map((e) => e.account), entries.map((e) => e.amount), entries.map((e) => e.transfer)];
}

async function round(ids, chained, pid) {
  await client.query(`ALTER TABLE bank.ledger_entries ${chained ? 'ENABLE' : 'DISABLE'} TRIGGER ledger_entries_chain`);
  const batches = Math.ceil(transfersPerRound / batchSize);
  const ticksBefore = await backendCpuTicks(pid);
  const startedMs = performance.now();
  for (let i = 0; i < batches; i += 1) {
    await client.query('BEGIN');
    await client.query({ name: 'chain_cost_write', text: WRITE_SQL, values: batchOf(ids) });
    await client.query('COMMIT');
  }
  const wallMs = performance.now() - startedMs;
  const cpuMs = ((await backendCpuTicks(pid)) - ticksBefore) * (1000 / TICKS_PER_SECOND);
  const transfers = batches * batchSize;
  return { chained, transfers, cpuMsPerTransfer: cpuMs / transfers, wallMsPerTransfer: wallMs / transfers };
}

try {
  const { rows } = await client.query('SELECT pg_backend_pid() AS pid, version() AS version');
  const pid = rows[0].pid;
  await client.query('SET synchronous_commit = on');
  await client.query('ALTER TABLE bank.ledger_entries ALTER COLUMN entry_hash DROP NOT NULL');
  const ids = await createAccounts();
  await round(ids, true, pid); // warm-up (plans, caches), not counted
  const results = [];
  for (let r = 0; r < rounds; r += 1) results.push(await round(ids, r % 2 === 0, pid));
  const mean = (chained, key) => {
    const xs = results.filter((x) => x.chained === chained).map((x) => x[key]);
    return xs.reduce((a, b) => a + b, 0) / xs.length;
  };
  const summary = {
    postgres: rows[0].version.split(',')[0],
    scenario: values.hot ? 'hot recipient' : 'uniform',
    batchSize,
    transfersPerRound,
    rounds,
    cpuMsPerTransfer: { chained: mean(true, 'cpuMsPerTransfer'), unchained: mean(false, 'cpuMsPerTransfer') },
    wallMsPerTransfer: { chained: mean(true, 'wallMsPerTransfer'), unchained: mean(false, 'wallMsPerTransfer') },
    rounds_detail: results,
  };
  console.log(JSON.stringify(summary, null, 2));
} finally {
  await client.query('ROLLBACK').catch(() => {});
  await client.query('ALTER TABLE bank.ledger_entries ENABLE TRIGGER ledger_entries_chain').catch(() => {});
  await client.end();
}
