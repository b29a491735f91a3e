// Facts read straight from PostgreSQL after a chaos run, for the checks the
// REST API cannot see: the ledger behind each balance, double entry, the
// outbox, unfinished top-ups and what the card was actually left charged.
// A table missing in this version of the schema skips its check (and says so).
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';

const UNFINISHED_STATES = ['RECEIVED', 'CHARGING', 'CHARGED', 'REFUNDING'];

const QUERIES = {
  ledger: `SELECT a.id::text AS account_id, a.balance_minor, COALESCE(SUM(l.amount_minor), 0)::bigint AS ledger_minor
             FROM bank.accounts a LEFT JOIN bank.ledger_entries l ON l.account_id = a.id
            GROUP BY a.id, a.balance_minor
           HAVING a.balance_minor <> COALESCE(SUM(l.amount_minor), 0)`,
  total: 'SELECT COALESCE(SUM(balance_minor), 0)::bigint AS total FROM bank.accounts',
  outbox: 'SELECT count(*)::int AS n FROM bank.outbox',
  // Holds (ADR 0015): the pending parts on the accounts are exactly the pending holds, and every
  // captured hold has one transfer of its captured amount (and no other hold has one).
  holds: `SELECT (SELECT COALESCE(SUM(pending_out_minor), 0) FROM bank.accounts)::bigint AS pending_out,
                 (SELECT COALESCE(SUM(pending_in_minor), 0) FROM bank.accounts)::bigint AS pending_in,
                 (SELECT COALESCE(SUM(amount_minor), 0) FROM bank.holds WHERE status = 'pending')::bigint AS held,
                 (SELECT count(*) FROM bank.holds WHERE status = 'pending')::int AS pending,
                 (SELECT count(*) FROM bank.holds h LEFT JOIN bank.transfers t ON t.hold_id = h.id
                   WHERE (h.status = 'captured') <> (t.id IS NOT NULL)
                      OR (t.id IS NOT NULL AND t.amount_minor IS DISTINCT FROM h.captured_minor))::int AS capture_mismatches`,
  // The per-account hash chain (ADR 0019) recomputed with the database's canonical text: link to the
  // previous entry, the entry's own hash, balance_after = running sum. The first breaks only (bounded).
  chain: `SELECT account_id::text, id::text AS entry_id, reason FROM (
            SELECT e.account_id, e.id,
                   CASE WHEN e.entry_hash IS NULL THEN 'missing hash'
                        WHEN e.prev_hash IS DISTINCT FROM lag(e.entry_hash) OVER w THEN 'previous hash mismatch'
                        WHEN e.entry_hash <> sha256(convert_to(bank.ledger_entry_canonical(e), 'UTF8')) THEN 'hash mismatch'
                        WHEN e.balance_after_minor <> sum(e.amount_minor) OVER w THEN 'balance_after mismatch' END AS reason
              FROM bank.ledger_entries e
            WINDOW w AS (PARTITION BY e.account_id ORDER BY e.id)) AS x
           WHERE reason IS NOT NULL ORDER BY account_id, id LIMIT 20`,
  unfinished: `SELECT id::text, state, idempotency_key FROM card_adapter.top_ups WHERE state = ANY($1::text[])`,
  // Refunds to the card (ADR 0018) end SUCCEEDED or FAILED; pending ones are finished by recovery.
  unfinishedRefunds: `SELECT id::text, state, idempotency_key FROM card_adapter.top_up_refunds WHERE state NOT IN ('SUCCEEDED', 'FAILED')`,
  // A deposit in the bank and a COMPLETED top-up in the journal go together, one for one.
  depositsVsJournal: `SELECT COALESCE(t.id, d.top_up_id)::text AS top_up_id, t.state, t.idempotency_key, count(d.id)::int AS deposits
                        FROM bank.deposits d FULL JOIN card_adapter.top_ups t ON t.id = d.top_up_id
                       GROUP BY 1, t.state, t.idempotency_key
                      HAVING count(d.id) <> CASE WHEN t.state = 'COMPLETED' THEN 1 ELSE 0 END`,
};

/** Where the payment gateway mock keeps its charges (it may move to its own schema). */
async function findChargesTable(client) {
  const { rows } = await client.query(
    `SELECT table_schema, table_name FROM information_schema.columns
      WHERE table_name IN ('mock_gateway_charges', 'charges') AND column_name IN ('idempotency_key', 'status', 'refund_id', 'amount_minor', 'id')
      GROUP BY table_schema, table_name HAVING count(*) = 5
      ORDER BY (table_name = 'charges') DESC`, // the mock's own schema wins over the card adapter's old copy
  );
  return rows[0] ? `"${rows[0].table_schema}"."${rows[0].table_name}"` : undefined;
}

/** The mock's refunds in parts (ADR 0018), next to its charges; undefined in versions without them. */
async function findRefundsTable(client, charges) {
  const schema = charges.split('.')[0].replaceAll('"', '');
  const { rows } = await client.query(
    `SELECT 1 FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'refunds' AND column_name IN ('charge_id', 'amount_minor') HAVING count(*) = 2`,
    [schema],
  );
  return rows[0] ? `"${schema}"."refunds"` : undefined;
}

async function optional(checked, name, fn) {
  try {
    const value = await fn();
    checked[name] = 'checked';
    return value;
  } catch (error) {
    if (error.code !== '42P01' && error.code !== '3F000') throw error; // undefined table / schema
    checked[name] = `skipped: ${error.message}`;
    return undefined;
  }
}

/**
 * Waits (bounded) until the outbox is drained and no top-up is unfinished,
 * then reads every fact once.
 * @returns {Promise<{ facts: import('./model.mjs').SqlFacts, checked: Record<string, string> }>}
 */
export async function readSqlFacts(databaseUrl, { waitMs }) {
  const client = new pg.Client({ connectionString: databaseUrl, connectionTimeoutMillis: 10_000, statement_timeout: 30_000 });
  await client.connect();
  try {
    const deadline = Date.now() + waitMs;
    while (Date.now() < deadline) {
      const outbox = await client.query(QUERIES.outbox).catch(() => ({ rows: [{ n: 0 }] }));
      const unfinished = await client.query(QUERIES.unfinished, [UNFINISHED_STATES]).catch(() => ({ rowCount: 0 }));
      if (outbox.rows[0].n === 0 && unfinished.rowCount === 0) break;
      await sleep(500);
    }
    const checked = {};
    const facts = {};
    facts.ledgerMismatches = await optional(checked, 'ledger sums to balance', async () =>
      (await client.query(QUERIES.ledger)).rows.map((r) => ({ accountId: r.account_id, balanceMinor: BigInt(r.balance_minor), ledgerMinor: BigInt(r.ledger_minor) })),
    );
    facts.totalAllAccountsMinor = await optional(checked, 'double entry', async () => BigInt((await client.query(QUERIES.total)).rows[0].total));
    facts.chainBreaks = await optional(checked, 'ledger hash chain intact', async () =>
      (await client.query(QUERIES.chain)).rows.map((r) => ({ accountId: r.account_id, entryId: r.entry_id, reason: r.reason })),
    );
    facts.holds = await optional(checked, 'pending parts equal pending holds', async () => {
      const r = (await client.query(QUERIES.holds)).rows[0];
      return {
        pendingOutMinor: BigInt(r.pending_out),
        pendingInMinor: BigInt(r.pending_in),
        heldMinor: BigInt(r.held),
        pendingCount: r.pending,
        captureMismatches: r.capture_mismatches,
      };
    });
    facts.outboxRows = await optional(checked, 'outbox drained', async () => (await client.query(QUERIES.outbox)).rows[0].n);
    facts.unfinishedTopUps = await optional(checked, 'nothing left pending', async () =>
      (await client.query(QUERIES.unfinished, [UNFINISHED_STATES])).rows.map((r) => ({ id: r.id, state: r.state, idempotencyKey: r.idempotency_key })),
    );
    facts.depositMismatches = await optional(checked, 'one deposit per completed top-up, none for others', async () =>
      (await client.query(QUERIES.depositsVsJournal)).rows.map((r) => ({ topUpId: r.top_up_id, state: r.state ?? 'no journal row', idempotencyKey: r.idempotency_key ?? '', deposits: r.deposits })),
    );
    facts.unfinishedRefunds = await optional(checked, 'no refund left pending', async () =>
      (await client.query(QUERIES.unfinishedRefunds)).rows.map((r) => ({ id: r.id, state: r.state, idempotencyKey: r.idempotency_key })),
    );
    const charges = await findChargesTable(client);
    if (!charges) checked['card charged only for completed top-ups'] = 'skipped: no charges table found';
    else {
      const refunds = await findRefundsTable(client, charges);
      // A charge refunded in parts is charged what remains (the last part sets refund_id: nothing remains).
      const refundedPart = refunds ? `(SELECT COALESCE(SUM(r.amount_minor), 0) FROM ${refunds} r WHERE r.charge_id = c.id)` : '0';
      facts.topUps = await optional(checked, 'card charged only for completed top-ups', async () =>
        (
          await client.query(
            `SELECT t.id::text, t.state, t.idempotency_key, t.amount_minor,
                    COALESCE(SUM(CASE WHEN c.status = 'succeeded' AND c.refund_id IS NULL THEN c.amount_minor - ${refundedPart} ELSE 0 END), 0)::bigint AS net
               FROM card_adapter.top_ups t
               LEFT JOIN ${charges} c ON c.idempotency_key = 'topup-' || t.id::text || '-charge' OR c.id = t.charge_id
              GROUP BY t.id, t.state, t.idempotency_key, t.amount_minor`,
          )
        ).rows.map((r) => ({ id: r.id, state: r.state, idempotencyKey: r.idempotency_key, amountMinor: BigInt(r.amount_minor), netChargedMinor: BigInt(r.net) })),
      );
    }
    for (const key of Object.keys(facts)) if (facts[key] === undefined) delete facts[key];
    return { facts, checked };
  } finally {
    await client.end().catch(() => {});
  }
}
