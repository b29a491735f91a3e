// The admin overdraft and forced reversals in the chaos run (issue 15; ADR 0016, ADR 0017).
// Before the workload the run's admin client gives a few accounts an overdraft
// (PUT /accounts/{id}/limits `overdraftLimit`); the workload sends more from
// them, so they go below zero and are refused at -overdraft (422
// LIMIT_EXCEEDED limit=overdraft), and now and then the admin reverses a
// transfer with `force: true` whose recipient cannot cover it. After the run
// PostgreSQL says whether the bank's backstop held to the cent (ADR 0017):
//   balance - pending_out >= -(overdraft_limit + forced_debt) on every account,
//   forced_debt = max(0, -(balance - pending_out) - overdraft_limit) (the debt is
//     exactly what the account is below its credit line, nothing else),
//   forced_debt <= the debt the account's forced reversals created (0 without one),
//   no ledger entry ever left an account below -(overdraft + the debt its forced
//     reversals created),
// and every forced reversal is audited (bank.reversals.forced with initiated_by
// and the debt it created) and was asked by the workload's admin.
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { formatMinor, parseMinor } from './model.mjs';
import { LIMIT_PLANS } from './limit-facts.mjs';
import { exchange } from './workload.mjs';

/** The overdrafts the run sets, one account each, after the accounts with spending limits. */
export const OVERDRAFT_PLANS = ['50.00', '30.00'];
/** Share of transfers sent from an overdraft account (on top of its 1/n share), so each reaches its overdraft. */
export const OVERDRAFT_SENDER_SHARE = 0.15;
/** Completed transfers after which the admin forces a reversal (drawn per transfer), and at most this many per run. */
export const FORCED_REVERSAL_SHARE = 0.02;
export const FORCED_REVERSALS_MAX = 8;
/** Transfers into an overdraft account kept as candidates for a forced reversal (the oldest go first). */
const CANDIDATES_MAX = 64;
/** Candidates whose recipient's balance the admin reads before giving up on one draw. */
export const FORCED_LOOKS_MAX = 4;
const SET_ATTEMPTS_MAX = 20;
const SET_RETRY_DELAY_MS = 500;

/**
 * Which accounts get an overdraft (pure): the accounts after the spending-limit
 * plans, one plan each, leaving at least two accounts with neither.
 * @returns {Map<string, bigint>} accountId -> overdraft in minor units
 */
export function planOverdrafts(accounts) {
  const first = LIMIT_PLANS.length;
  const count = Math.max(0, Math.min(OVERDRAFT_PLANS.length, accounts.length - first - 2));
  return new Map(OVERDRAFT_PLANS.slice(0, count).map((limit, i) => [accounts[first + i], parseMinor(limit)]));
}

/** Sets each planned overdraft as the admin (before the workload; a 5xx or no answer is retried, PUT is idempotent). */
export async function setOverdrafts({ baseUrl, plans, adminHeaders }) {
  for (const [accountId, limitMinor] of plans) {
    let last = { error: 'no admin token' };
    for (let attempt = 1; attempt <= SET_ATTEMPTS_MAX; attempt++) {
      const headers = await adminHeaders();
      if (headers) {
        last = await exchange(baseUrl, 'PUT', `/accounts/${accountId}/limits`, { body: { overdraftLimit: formatMinor(limitMinor) }, headers });
        if (last.status === 200 || (last.status !== undefined && last.status < 500 && last.status !== 429)) break;
      }
      await sleep(SET_RETRY_DELAY_MS);
    }
    if (last.status !== 200) throw new Error(`setting the overdraft of ${accountId}: ${last.status ?? last.error} ${last.body?.code ?? ''}`);
    if (parseMinor(last.body.overdraftLimit) !== limitMinor) throw new Error(`overdraft of ${accountId}: asked ${formatMinor(limitMinor)}, answered ${last.body.overdraftLimit}`);
  }
}

/**
 * The transfers the admin may force back (pure state, driven by the workload):
 * first those whose owner reversal was refused `reversal-would-overdraw` (the
 * forced path then surely runs), else the oldest transfer into an overdraft
 * account that was not reversed (that account has spent since, usually to its
 * overdraft). Each transfer is handed out once (one put back, because its
 * recipient could cover it after all, waits at the end); at most `max` in all.
 */
export function createForcedReversalPicker({ overdraftAccounts, max = FORCED_REVERSALS_MAX, candidatesMax = CANDIDATES_MAX }) {
  const into = new Set(overdraftAccounts);
  const refused = [];
  const received = [];
  let picked = 0;
  return {
    /** A completed transfer, and its owner reversal if one was drawn. */
    saw(transfer, reversal) {
      if (transfer.kind !== 'transfer' || transfer.outcome !== 'completed') return;
      if (reversal) {
        if (reversal.outcome === 'rejected' && reversal.answers.at(-1)?.code === 'REVERSAL_WOULD_OVERDRAW' && refused.length < candidatesMax) refused.push(transfer);
        return;
      }
      if (into.has(transfer.to)) {
        received.push(transfer);
        if (received.length > candidatesMax) received.shift();
      }
    },
    /** The next transfer to force back, or undefined (none left, or the run's bound reached). */
    pick() {
      if (picked >= max) return undefined;
      const transfer = refused.shift() ?? received.shift();
      if (transfer) picked += 1;
      return transfer;
    },
    /** A picked transfer not forced after all: a candidate again, last in line. */
    putBack(transfer) {
      picked -= 1;
      if (received.length < candidatesMax) received.push(transfer);
    },
    get picked() {
      return picked;
    },
  };
}

/**
 * Whether the recipient's balance (GET /accounts/{id}/balance) cannot cover a
 * reversal of `amountMinor`, so an owner reversal would get `422
 * reversal-would-overdraw` and the admin's force is needed (pure; ADR 0017:
 * funds = available + overdraft).
 */
export function needsForce(balance, amountMinor) {
  if (typeof balance?.available !== 'string' || typeof balance?.overdraftLimit !== 'string') return false;
  const available = balance.available.startsWith('-') ? -parseMinor(balance.available.slice(1)) : parseMinor(balance.available);
  return available + parseMinor(balance.overdraftLimit) < amountMinor;
}

const ACCOUNTS = `
  SELECT a.id::text AS account_id, a.balance_minor, a.pending_out_minor, a.overdraft_limit_minor, a.forced_debt_minor,
         (SELECT min(e.balance_after_minor) FROM bank.ledger_entries e WHERE e.account_id = a.id)::bigint AS lowest_minor,
         (SELECT count(*) FROM bank.ledger_entries e WHERE e.account_id = a.id AND e.balance_after_minor < 0)::int AS entries_below_zero
    FROM bank.accounts a
   WHERE a.kind = 'customer'
   ORDER BY a.id`;
const FORCED = `
  SELECT id::text, transfer_id::text, from_account_id::text, amount_minor, forced_debt_minor, initiated_by, idempotency_key
    FROM bank.reversals WHERE forced ORDER BY created_at, id`;

/**
 * The accounts' balances, overdrafts and forced debt, each one's lowest ledger
 * balance, and every forced reversal, from PostgreSQL.
 * @returns {Promise<import('./overdraft-facts.d.mts').OverdraftFacts>}
 */
export async function readOverdraftFacts(databaseUrl) {
  const client = new pg.Client({ connectionString: databaseUrl, connectionTimeoutMillis: 10_000, statement_timeout: 30_000 });
  await client.connect();
  try {
    const accounts = (await client.query(ACCOUNTS)).rows.map((r) => ({
      accountId: r.account_id,
      balanceMinor: BigInt(r.balance_minor),
      pendingOutMinor: BigInt(r.pending_out_minor),
      overdraftMinor: BigInt(r.overdraft_limit_minor),
      forcedDebtMinor: BigInt(r.forced_debt_minor),
      lowestMinor: r.lowest_minor === null ? 0n : BigInt(r.lowest_minor),
      entriesBelowZero: r.entries_below_zero,
    }));
    const forced = (await client.query(FORCED)).rows.map((r) => ({
      id: r.id,
      transferId: r.transfer_id,
      fromAccountId: r.from_account_id,
      amountMinor: BigInt(r.amount_minor),
      forcedDebtMinor: BigInt(r.forced_debt_minor),
      initiatedBy: r.initiated_by,
      idempotencyKey: r.idempotency_key,
    }));
    return { accounts, forced };
  } finally {
    await client.end().catch(() => {});
  }
}

/**
 * Violations of the overdraft and forced-reversal facts (pure), and what the
 * run did: overdraft refusals, entries below zero, forced reversals.
 * @param {import('./overdraft-facts.d.mts').OverdraftFacts} facts
 * @param {import('./model.d.mts').Op[]} ops
 * @param {Map<string, bigint>} plans accountId -> the overdraft the run set
 */
export function checkOverdraftFacts(facts, ops, plans) {
  const violations = [];
  const v = (invariant, detail) => violations.push({ invariant, detail });
  const debtCreated = new Map();
  for (const r of facts.forced) debtCreated.set(r.fromAccountId, (debtCreated.get(r.fromAccountId) ?? 0n) + r.forcedDebtMinor);
  for (const a of facts.accounts) {
    const where = `account ${a.accountId}`;
    const planned = plans.get(a.accountId) ?? 0n;
    if (a.overdraftMinor !== planned) v('overdraft set as asked', `${where}: overdraft ${formatMinor(a.overdraftMinor)}, the run set ${formatMinor(planned)}`);
    const availableMinor = a.balanceMinor - a.pendingOutMinor;
    if (availableMinor < -(a.overdraftMinor + a.forcedDebtMinor)) {
      v('available >= -(overdraft + forced debt)', `${where}: available ${formatMinor(availableMinor)}, overdraft ${formatMinor(a.overdraftMinor)}, forced debt ${formatMinor(a.forcedDebtMinor)}`);
    }
    const below = -availableMinor - a.overdraftMinor;
    if (a.forcedDebtMinor !== (below > 0n ? below : 0n)) {
      v('forced debt = what the account is below its overdraft', `${where}: forced debt ${formatMinor(a.forcedDebtMinor)}, available ${formatMinor(availableMinor)}, overdraft ${formatMinor(a.overdraftMinor)}`);
    }
    const created = debtCreated.get(a.accountId) ?? 0n;
    if (a.forcedDebtMinor > created) v('forced debt only from forced reversals', `${where}: forced debt ${formatMinor(a.forcedDebtMinor)}, its forced reversals created ${formatMinor(created)}`);
    if (a.lowestMinor < -(planned + created)) {
      v('no balance below -overdraft except by forced reversal debt', `${where}: a ledger entry left ${formatMinor(a.lowestMinor)}, overdraft ${formatMinor(planned)} + forced debt created ${formatMinor(created)}`);
    }
  }
  const asked = ops.filter((op) => op.kind === 'reversal' && op.force);
  const byId = new Map(facts.forced.map((r) => [r.id, r]));
  const forcedOps = new Set();
  for (const op of asked) {
    if (op.outcome === 'rejected') v('an admin force overrides the funds check', `reversal key=${op.key} of transfer ${op.transferId} refused ${op.answers.at(-1)?.code ?? ''}`);
    if (op.outcome !== 'completed' || !op.forced) continue;
    forcedOps.add(op.resultId);
    const row = byId.get(op.resultId);
    if (!row) v('every forced reversal audited', `reversal ${op.resultId} key=${op.key} answered forced, but bank.reversals has no forced row for it`);
    else if (!row.initiatedBy || row.initiatedBy !== op.initiatedBy || row.forcedDebtMinor <= 0n || row.idempotencyKey !== op.key) {
      v('every forced reversal audited', `reversal ${op.resultId}: initiated_by ${JSON.stringify(row.initiatedBy)} (answered ${JSON.stringify(op.initiatedBy)}), debt ${formatMinor(row.forcedDebtMinor)}, key ${row.idempotencyKey} (sent ${op.key})`);
    }
  }
  for (const r of facts.forced) {
    if (!forcedOps.has(r.id)) v('only the admin\'s forced reversals are forced', `bank.reversals ${r.id} key=${r.idempotencyKey} is forced but no admin request was answered forced`);
  }
  const overdraftRefusals = ops.filter((op) => op.outcome === 'rejected' && op.answers.at(-1)?.code === 'LIMIT_EXCEEDED' && op.answers.at(-1)?.limit === 'overdraft').length;
  const planned = facts.accounts.filter((a) => plans.has(a.accountId));
  const lowest = Object.fromEntries(planned.map((a) => [a.accountId, `${formatMinor(a.lowestMinor)} (overdraft ${formatMinor(plans.get(a.accountId))})`]));
  return {
    violations,
    counts: {
      overdraftAccounts: plans.size,
      entriesBelowZero: planned.reduce((s, a) => s + a.entriesBelowZero, 0),
      lowest,
      overdraftRefusals,
      forcedAsked: asked.length,
      forced: forcedOps.size,
      forcedDebtMinor: facts.forced.reduce((s, r) => s + r.forcedDebtMinor, 0n),
    },
  };
}
