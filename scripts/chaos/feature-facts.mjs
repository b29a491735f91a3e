// The wallet features' part of a chaos run (issue 15), wired into chaos.mjs
// with three calls: the admin client the identity-service seeds
// (chaosAdminClient, an env for the identity-service), the limits set before
// the workload (startLimits), and the final checks after the SQL facts
// (checkFeatures: limits, statements, balance-at, ledger verification).
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkLimitFacts, checkLimitRefusals, planLimits, readLimitFacts, setLimits } from './limit-facts.mjs';
import { expectedBalances } from './model.mjs';
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
export async function checkFeatures({ baseUrl, databaseUrl, accounts, auth, ops, initialMinor, plans, fromIso, workDir, log }) {
  const counters = await readLimitFacts(databaseUrl);
  const refusals = checkLimitRefusals(ops, plans);
  const adminHeaders = await adminHeadersOf(baseUrl, chaosAdminClient(workDir), log);
  const statements = await readStatementFacts({ baseUrl, accounts, auth, adminHeaders, fromIso, initialMinor, modelMinor: expectedBalances(initialMinor, ops), ops });
  const violations = [...checkLimitFacts(counters, plans), ...refusals.violations, ...statements.violations];
  const refundsCancelled = ops.filter((op) => op.kind === 'refund' && op.failureReason === 'CARD_REFUND_DECLINED').length;
  const checked = {
    'spent counters within limits and equal to their window\'s transfers and holds out': `SQL: ${counters.length} accounts, ${plans.size} with limits`,
    'LIMIT_EXCEEDED only where a limit is set': `${[...refusals.refusals.values()].reduce((a, b) => a + b, 0)} refusals`,
    'statement opens at the seeded balance, adds up and closes at the posted balance = the model, with exactly the acknowledged movements':
      `${statements.statements} statements, ${statements.statementEntries} entries`,
    'balance at now = posted, before the first operation = seeded': `${statements.statements * 2} reads`,
    'ledger verified (GET /admin/ledger/verify)': `${statements.verifiedAccounts} accounts, ${statements.verifiedEntries} entries`,
  };
  log(`limits, statements, ledger: ${Object.values(checked).join('; ')}; ${refundsCancelled} refunds declined by the card; ${violations.length} violations`);
  return { violations, summary: { checked, limitRefusals: Object.fromEntries(refusals.refusals), refundsCancelled } };
}
