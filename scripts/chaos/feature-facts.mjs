// The wallet features' part of a chaos run (issue 15), wired into chaos.mjs
// with three calls: the admin client the identity-service seeds
// (chaosAdminClient, an env for the identity-service), the limits set before
// the workload (startLimits; startOverdrafts as the admin, with what the
// workload needs for forced reversals), and the final checks after the SQL
// facts (checkFeatures: limits, overdrafts and forced reversals, statements,
// balance-at, ledger verification).
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkLimitFacts, checkLimitRefusals, planLimits, readLimitFacts, setLimits } from './limit-facts.mjs';
import { expectedBalances, formatMinor } from './model.mjs';
import {
  checkOverdraftFacts,
  FORCED_REVERSAL_SHARE,
  FORCED_REVERSALS_MAX,
  OVERDRAFT_SENDER_SHARE,
  planOverdrafts,
  readOverdraftFacts,
  setOverdrafts,
} from './overdraft-facts.mjs';
import { readStatementFacts } from './statement-facts.mjs';

const TOKEN_TIMEOUT_MS = 10_000;
const TOKEN_ATTEMPTS_MAX = 10;
const TOKEN_RETRY_DELAY_MS = 1_000;

const adminClients = new Map();

/**
 * The run's admin client (client credentials, role admin): written once per
 * work folder into an IDENTITY_CLIENTS_FILE with a fresh random secret, so
 * the run can call admin-only endpoints without the development users.
 * @returns {{ clientId: string, clientSecret: string, env: Record<string, string> }}
 */
export function chaosAdminClient(workDir) {
  let client = adminClients.get(workDir);
  if (!client) {
    const file = join(workDir, 'identity-clients.json');
    client = { clientId: 'chaos-admin', clientSecret: randomBytes(32).toString('hex'), env: { IDENTITY_CLIENTS_FILE: file } };
    writeFileSync(file, JSON.stringify([{ clientId: client.clientId, clientSecret: client.clientSecret, roles: ['admin'], scopes: [] }]), { mode: 0o600 });
    adminClients.set(workDir, client);
  }
  return client;
}

/** An admin bearer token from the gateway's /auth/token (client_credentials), or undefined with the reason logged (never the secret). */
async function adminHeadersOf(baseUrl, client, log) {
  const basic = Buffer.from(`${client.clientId}:${client.clientSecret}`).toString('base64');
  let last = '';
  for (let attempt = 1; attempt <= TOKEN_ATTEMPTS_MAX; attempt++) {
    try {
      const res = await fetch(`${baseUrl}/auth/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${basic}` },
        body: 'grant_type=client_credentials',
        signal: AbortSignal.timeout(TOKEN_TIMEOUT_MS),
      });
      const body = await res.json().catch(() => undefined);
      if (res.status === 200 && typeof body?.access_token === 'string') return { authorization: `Bearer ${body.access_token}` };
      last = `${res.status} ${body?.error ?? ''}`;
      if (res.status < 500 && res.status !== 429) break;
    } catch (error) {
      last = error?.cause?.code ?? error?.name ?? 'error';
    }
    await new Promise((resolve) => setTimeout(resolve, TOKEN_RETRY_DELAY_MS));
  }
  log(`admin token refused: ${last}`);
  return undefined;
}

/** Admin tokens are renewed this long after they were issued (they live 15 minutes by default). */
const ADMIN_TOKEN_RENEW_MS = 5 * 60_000;

/**
 * The admin's headers for the run, fetched on first use and renewed every few
 * minutes; undefined while no token can be had (the caller retries later).
 * Concurrent callers share one fetch.
 */
function adminSession(baseUrl, workDir, log) {
  let current;
  let issuedAtMs = 0;
  let pending;
  return async () => {
    if (current && Date.now() - issuedAtMs < ADMIN_TOKEN_RENEW_MS) return current;
    pending ??= adminHeadersOf(baseUrl, chaosAdminClient(workDir), log).then((headers) => {
      pending = undefined;
      if (headers) {
        current = headers;
        issuedAtMs = Date.now();
      }
      return headers ?? (current && Date.now() - issuedAtMs < 2 * ADMIN_TOKEN_RENEW_MS ? current : undefined);
    });
    return pending;
  };
}

/**
 * Gives the planned accounts an overdraft as the run's admin (before the
 * workload, ADR 0016). Returns the overdrafts (for the checks) and the
 * workload's options: those accounts send more, and the admin forces back
 * now and then a transfer the recipient cannot cover (ADR 0017).
 */
export async function startOverdrafts({ baseUrl, accounts, workDir, log }) {
  const limits = planOverdrafts(accounts);
  const adminHeaders = adminSession(baseUrl, workDir, log);
  await setOverdrafts({ baseUrl, plans: limits, adminHeaders });
  log(`overdrafts set by the admin on ${limits.size} accounts: ${[...limits].map(([id, minor]) => `${id.slice(0, 8)} ${formatMinor(minor)}`).join(', ')}`);
  const workload = { accounts: [...limits.keys()], senderShare: OVERDRAFT_SENDER_SHARE, forcedShare: FORCED_REVERSAL_SHARE, forcedMax: FORCED_REVERSALS_MAX, adminHeaders };
  return { limits, workload };
}

/** Sets the planned limits as the owners (before the workload); returns the plans for the checks. */
export async function startLimits({ baseUrl, accounts, auth, log }) {
  const plans = planLimits(accounts);
  await setLimits({ baseUrl, plans, auth });
  log(`limits set on ${plans.size} accounts: ${[...plans].map(([id, p]) => `${id.slice(0, 8)} ${JSON.stringify(p)}`).join(', ')}`);
  return plans;
}

/**
 * After the run (everything settled): spending counters in SQL, LIMIT_EXCEEDED
 * only where a limit is set, every account's statement and balance-at, and the
 * ledger verification. Returns the violations and what was checked.
 */
export async function checkFeatures({ baseUrl, databaseUrl, accounts, auth, ops, initialMinor, plans, overdraft, fromIso, workDir, log }) {
  const counters = await readLimitFacts(databaseUrl);
  const overdrafts = overdraft?.limits ?? new Map();
  const refusals = checkLimitRefusals(ops, plans, overdrafts);
  const overdraftFacts = checkOverdraftFacts(await readOverdraftFacts(databaseUrl), ops, overdrafts);
  const od = overdraftFacts.counts;
  const adminHeaders = await adminHeadersOf(baseUrl, chaosAdminClient(workDir), log);
  const statements = await readStatementFacts({ baseUrl, accounts, auth, adminHeaders, fromIso, initialMinor, modelMinor: expectedBalances(initialMinor, ops), ops });
  const violations = [...checkLimitFacts(counters, plans), ...refusals.violations, ...overdraftFacts.violations, ...statements.violations];
  const refundsCancelled = ops.filter((op) => op.kind === 'refund' && op.failureReason === 'CARD_REFUND_DECLINED').length;
  const checked = {
    'spent counters within limits and equal to their window\'s transfers and holds out': `SQL: ${counters.length} accounts, ${plans.size} with limits`,
    'LIMIT_EXCEEDED only where a limit is set': `${[...refusals.refusals.values()].reduce((a, b) => a + b, 0)} refusals`,
    'overdraft used: no available below -(overdraft + forced debt), forced debt = what is owed beyond the overdraft and only from forced reversals, no ledger balance below -(overdraft + forced debt created)':
      `SQL: ${od.overdraftAccounts} accounts with an overdraft, ${od.entriesBelowZero} ledger entries below zero (lowest ${Object.values(od.lowest).join(', ') || '-'}), ${od.overdraftRefusals} refused at the overdraft`,
    'forced reversals audited (bank.reversals forced, initiated_by, debt) and forced in both histories':
      `${od.forced} forced of ${od.forcedAsked} asked by the admin, debt created ${formatMinor(od.forcedDebtMinor)}`,
    'statement opens at the seeded balance, adds up and closes at the posted balance = the model, with exactly the acknowledged movements':
      `${statements.statements} statements, ${statements.statementEntries} entries`,
    'balance at now = posted, before the first operation = seeded': `${statements.statements * 2} reads`,
    'ledger verified (GET /admin/ledger/verify)': `${statements.verifiedAccounts} accounts, ${statements.verifiedEntries} entries`,
  };
  log(`limits, statements, ledger: ${Object.values(checked).join('; ')}; ${refundsCancelled} refunds declined by the card; ${violations.length} violations`);
  return { violations, summary: { checked, limitRefusals: Object.fromEntries(refusals.refusals), refundsCancelled, overdraft: { ...od, forcedDebtMinor: formatMinor(od.forcedDebtMinor) } } };
}
