// Spending limits in the chaos run (ADR 0016): a few accounts get daily and
// monthly outgoing limits at the start (set by their owners, PUT
// /accounts/{id}/limits), low enough that transfers and holds hit 422
// LIMIT_EXCEEDED during the run. Afterwards PostgreSQL says whether each
// account's spent counters stay within its limits and equal what was spent in
// the counter's own window (services/bank-service/src/domain/spending.ts):
// transfers out at their creation, holds out at their creation minus what a
// void, expiry or partial capture gave back within the same window.
// Reversals and refunds are not spending. Checking each counter against its
// own window (the local day/month it names) stays right when the run crosses
// midnight in the account's time zone.
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { formatMinor, parseMinor } from './model.mjs';
import { exchange } from './workload.mjs';

/**
 * The limits the run sets: one account per plan, in order (the first
 * accounts). Transfers and holds are 1.00-40.00 and an account sends a few
 * hundred in a run, so each of these is reached within the short form; one
 * daily only, one monthly only, one where the monthly limit is the lower; two
 * in other time zones than UTC (windows counted in the zone's local day).
 */
export const LIMIT_PLANS = [
  { dailyLimit: '60.00' },
  { monthlyLimit: '80.00', timeZone: 'America/New_York' },
  { dailyLimit: '150.00', monthlyLimit: '100.00', timeZone: 'Asia/Tokyo' },
];
const SET_ATTEMPTS_MAX = 20;
const SET_RETRY_DELAY_MS = 500;

/** Which account gets which limits (pure): the first accounts, one plan each. */
export function planLimits(accounts) {
  return new Map(LIMIT_PLANS.slice(0, Math.max(0, accounts.length - 2)).map((plan, i) => [accounts[i], plan]));
}

/**
 * Sets the planned limits as each account's owner, before the workload and the
 * faults start (a 5xx right after start-up is retried; PUT is idempotent).
 * @returns {Promise<Map<string, object>>} accountId -> the limits the gateway answered
 */
export async function setLimits({ baseUrl, plans, auth }) {
  const answered = new Map();
  for (const [accountId, plan] of plans) {
    let last;
    for (let attempt = 1; attempt <= SET_ATTEMPTS_MAX; attempt++) {
      last = await exchange(baseUrl, 'PUT', `/accounts/${accountId}/limits`, { body: plan, headers: auth.headersFor(accountId) });
      if (last.status === 200 || (last.status !== undefined && last.status < 500 && last.status !== 429)) break;
      await sleep(SET_RETRY_DELAY_MS);
    }
    if (last.status !== 200) throw new Error(`setting limits of ${accountId}: ${last.status ?? last.error} ${last.body?.code ?? ''}`);
    answered.set(accountId, last.body);
  }
  return answered;
}

// Each spending of an account: what it counted when made, when, and what was given back when.
const SPENT = `
  SELECT t.sender_account_id AS account_id, t.created_at AS spent_at, t.amount_minor, NULL::timestamptz AS released_at, 0::bigint AS released_minor
    FROM bank.transfers t WHERE t.hold_id IS NULL
  UNION ALL
  SELECT h.sender_account_id, h.created_at, h.amount_minor, h.finalized_at,
         CASE h.status WHEN 'pending' THEN 0 WHEN 'captured' THEN h.amount_minor - h.captured_minor ELSE h.amount_minor END
    FROM bank.holds h`;

/** What a spending still counts in the window `unit` ('day' | 'month') of its creation, in the account's zone. */
const counted = (unit) => `
  s.amount_minor - CASE WHEN s.released_at IS NOT NULL
                         AND date_trunc('${unit}', s.released_at AT TIME ZONE a.time_zone) = date_trunc('${unit}', s.spent_at AT TIME ZONE a.time_zone)
                        THEN s.released_minor ELSE 0 END`;

const COUNTERS = `
  SELECT a.id::text AS account_id, a.time_zone, a.daily_limit_minor, a.monthly_limit_minor,
         a.spent_day::text AS spent_day, a.spent_day_minor, a.spent_month::text AS spent_month, a.spent_month_minor,
         COALESCE(SUM(${counted('day')}) FILTER (WHERE (s.spent_at AT TIME ZONE a.time_zone)::date = a.spent_day), 0)::bigint AS day_sum,
         COALESCE(SUM(${counted('month')}) FILTER (WHERE date_trunc('month', s.spent_at AT TIME ZONE a.time_zone)::date = a.spent_month), 0)::bigint AS month_sum
    FROM bank.accounts a LEFT JOIN (${SPENT}) s ON s.account_id = a.id
   WHERE a.kind = 'customer'
   GROUP BY a.id
   ORDER BY a.id`;

const toMinor = (v) => (v === null ? null : BigInt(v));

/**
 * The counters of every customer account next to the sums of its windows.
 * @returns {Promise<import('./limit-facts.d.mts').SpendingCounters[]>}
 */
export async function readLimitFacts(databaseUrl) {
  const client = new pg.Client({ connectionString: databaseUrl, connectionTimeoutMillis: 10_000, statement_timeout: 30_000 });
  await client.connect();
  try {
    const { rows } = await client.query(COUNTERS);
    return rows.map((r) => ({
      accountId: r.account_id,
      timeZone: r.time_zone,
      dailyLimitMinor: toMinor(r.daily_limit_minor),
      monthlyLimitMinor: toMinor(r.monthly_limit_minor),
      spentDay: r.spent_day,
      spentDayMinor: BigInt(r.spent_day_minor),
      spentMonth: r.spent_month,
      spentMonthMinor: BigInt(r.spent_month_minor),
      daySumMinor: BigInt(r.day_sum),
      monthSumMinor: BigInt(r.month_sum),
    }));
  } finally {
    await client.end().catch(() => {});
  }
}

/**
 * Violations of the spending counters (pure): above the limit, or not what the
 * window's transfers and holds add up to. Also: the planned limits are on the
 * rows (a PUT answered 200 that changed nothing is caught here).
 * @param {import('./limit-facts.d.mts').SpendingCounters[]} counters
 * @param {Map<string, { dailyLimit?: string, monthlyLimit?: string, timeZone?: string }>} plans
 */
export function checkLimitFacts(counters, plans) {
  const violations = [];
  const v = (invariant, detail) => violations.push({ invariant, detail });
  const byId = new Map(counters.map((c) => [c.accountId, c]));
  for (const c of counters) {
    const where = `account ${c.accountId} (${c.timeZone})`;
    if (c.dailyLimitMinor !== null && c.spentDayMinor > c.dailyLimitMinor) v('spent within limits', `${where}: spent ${formatMinor(c.spentDayMinor)} on ${c.spentDay}, daily limit ${formatMinor(c.dailyLimitMinor)}`);
    if (c.monthlyLimitMinor !== null && c.spentMonthMinor > c.monthlyLimitMinor) v('spent within limits', `${where}: spent ${formatMinor(c.spentMonthMinor)} in ${c.spentMonth}, monthly limit ${formatMinor(c.monthlyLimitMinor)}`);
    if (c.spentDayMinor !== c.daySumMinor) v("spent counters equal the window's spending", `${where}: day ${c.spentDay} counter ${formatMinor(c.spentDayMinor)}, transfers and holds out ${formatMinor(c.daySumMinor)}`);
    if (c.spentMonthMinor !== c.monthSumMinor) v("spent counters equal the window's spending", `${where}: month ${c.spentMonth} counter ${formatMinor(c.spentMonthMinor)}, transfers and holds out ${formatMinor(c.monthSumMinor)}`);
  }
  for (const [accountId, plan] of plans) {
    const c = byId.get(accountId);
    const same = (want, got) => want === undefined || (got !== null && parseMinor(want) === got);
    if (!c || !same(plan.dailyLimit, c.dailyLimitMinor) || !same(plan.monthlyLimit, c.monthlyLimitMinor) || (plan.timeZone ?? 'UTC') !== c.timeZone) {
      v('limits set as asked', `account ${accountId}: asked ${JSON.stringify(plan)}, row has ${c ? `daily ${c.dailyLimitMinor}, monthly ${c.monthlyLimitMinor}, ${c.timeZone}` : 'nothing'}`);
    }
  }
  return violations;
}

/**
 * A LIMIT_EXCEEDED is a refusal only from an account with a limit: from any
 * other it is a wrong answer. `limit: overdraft` (funds short of available +
 * overdraft, ADR 0016) only from an account the run gave an overdraft, a
 * daily or monthly one only from an account with spending limits. Counts the
 * refusals per account (pure).
 * @param {import('./model.d.mts').Op[]} ops
 * @param {Map<string, unknown>} plans
 * @param {Map<string, unknown>} [overdrafts] accounts the run gave an overdraft
 */
export function checkLimitRefusals(ops, plans, overdrafts = new Map()) {
  const violations = [];
  const refusals = new Map();
  for (const op of ops) {
    const last = op.answers.at(-1);
    if (op.outcome !== 'rejected' || last?.code !== 'LIMIT_EXCEEDED') continue;
    refusals.set(op.from, (refusals.get(op.from) ?? 0) + 1);
    const allowed = last.limit === 'overdraft' ? overdrafts.has(op.from) : plans.has(op.from);
    if (!allowed) {
      violations.push({ invariant: 'LIMIT_EXCEEDED only where a limit is set', detail: `${op.kind} key=${op.key} from ${op.from} (limit ${last.limit ?? 'unnamed'}: none set)` });
    }
  }
  return { violations, refusals };
}
