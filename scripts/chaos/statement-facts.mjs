// Statements, balance-at and the ledger verification after a chaos run
// (issue 15), read through the gateway like a client would: every account's
// statement over the whole run (as its owner) must open at the seeded
// balance, add up entry by entry, hold exactly the movements the model
// acknowledged and close at the posted balance, which is the model's; the
// balance at "now" is the posted balance and before the first operation the
// seeded one; GET /admin/ledger/verify (admin) finds no break. The checks are
// pure (unit-tested in test/chaos/statement-facts.test.ts); reading is bounded.
import { setTimeout as sleep } from 'node:timers/promises';
import { expectedHistories, formatMinor } from './model.mjs';
import { exchange } from './workload.mjs';

const READ_ATTEMPTS_MAX = 10;
const READ_RETRY_DELAY_MS = 500;
const READ_CONCURRENCY = 4;
const VERIFY_PAGE_ACCOUNTS = 1000;
const VERIFY_PAGES_MAX = 100;
const MISMATCHES_SHOWN_MAX = 5;

/** "-12.50" -> -1250n: statement amounts and balances are signed. */
export function parseSignedMinor(amount) {
  const match = /^(-?)(0|[1-9][0-9]{0,15})(?:\.([0-9]{1,2}))?$/.exec(String(amount));
  if (!match) throw new Error(`not a signed money amount: ${JSON.stringify(amount)}`);
  const minor = BigInt(match[2]) * 100n + BigInt((match[3] ?? '').padEnd(2, '0'));
  return match[1] ? -minor : minor;
}

/** The ledger entry a history event stands for: its statement type and sign; undefined = moves no posted money. */
const POSTED = {
  transfer_out: ['transfer', -1n],
  transfer_in: ['transfer', 1n],
  topup: ['deposit', 1n],
  reversal_out: ['reversal', -1n],
  reversal_in: ['reversal', 1n],
  refund: ['refund', -1n],
  refund_cancelled: ['refund', 1n],
};

/**
 * The ledger entries the model expects per account after the first operation,
 * as counts of `${type}:${signed amount}` (the statement's referenceId is the
 * bank's id, which the REST answers of deposits and refunds do not carry).
 * @returns {Map<string, Map<string, number>>}
 */
export function expectedEntries(ops) {
  const byAccount = new Map();
  for (const [accountId, entries] of expectedHistories(ops)) {
    const counts = new Map();
    for (const entry of entries.values()) {
      const posted = POSTED[entry.type];
      if (!posted) continue;
      const key = `${posted[0]}:${formatMinor(posted[1] * (entry.amountMinor ?? entry.op.amountMinor))}`;
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    byAccount.set(accountId, counts);
  }
  return byAccount;
}

/** Differences between two count maps, at most `max` of them: "key: 2 expected, 1 found". */
function countDifferences(expected, found, max) {
  const out = [];
  for (const key of new Set([...expected.keys(), ...found.keys()])) {
    const want = expected.get(key) ?? 0;
    const got = found.get(key) ?? 0;
    if (want !== got && out.length < max) out.push(`${key}: ${want} expected, ${got} found`);
  }
  return out;
}

/**
 * One account's statement against itself, the ledger and the model (pure).
 * @param {{ accountId: string, statement: any, postedMinor: bigint, modelMinor: bigint, openingMinor: bigint, expected?: Map<string, number> }} input
 */
export function checkStatement({ accountId, statement, postedMinor, modelMinor, openingMinor, expected }) {
  const violations = [];
  const v = (invariant, detail) => violations.push({ invariant, detail: `account ${accountId}: ${detail}` });
  const opening = parseSignedMinor(statement.openingBalance);
  const closing = parseSignedMinor(statement.closingBalance);
  if (opening !== openingMinor) v('statement opens at the balance before the run', `opening ${formatMinor(opening)}, seeded ${formatMinor(openingMinor)}`);
  let running = opening;
  let inMinor = 0n;
  let outMinor = 0n;
  const found = new Map();
  let lastAt = '';
  let badBalances = 0; // the first one is reported, with the count
  for (const entry of statement.entries) {
    const amount = parseSignedMinor(entry.amount);
    running += amount;
    if (amount >= 0n) inMinor += amount;
    else outMinor -= amount;
    if (parseSignedMinor(entry.balance) !== running && badBalances++ === 0) {
      v('statement running balances add up', `entry ${entry.entryId}: balance ${entry.balance}, opening + entries so far ${formatMinor(running)}`);
    }
    if (Date.parse(entry.createdAt) < Date.parse(lastAt)) v('statement entries in time order', `entry ${entry.entryId} at ${entry.createdAt} after ${lastAt}`);
    lastAt = entry.createdAt;
    const key = `${entry.type}:${formatMinor(amount)}`;
    found.set(key, (found.get(key) ?? 0) + 1);
  }
  if (badBalances > 1) v('statement running balances add up', `${badBalances} entries in all`);
  if (running !== closing) v('statement adds up (opening + entries = closing)', `opening ${formatMinor(opening)} + entries = ${formatMinor(running)}, closing ${formatMinor(closing)}`);
  if (statement.entryCount !== statement.entries.length) v('statement adds up (opening + entries = closing)', `entryCount ${statement.entryCount}, ${statement.entries.length} entries`);
  if (parseSignedMinor(statement.totalIn) !== inMinor || parseSignedMinor(statement.totalOut) !== outMinor) {
    v('statement adds up (opening + entries = closing)', `totals in ${statement.totalIn} / out ${statement.totalOut}, entries in ${formatMinor(inMinor)} / out ${formatMinor(outMinor)}`);
  }
  if (closing !== postedMinor || closing !== modelMinor) {
    v('statement closes at the posted balance and the model', `closing ${formatMinor(closing)}, posted ${formatMinor(postedMinor)}, model ${formatMinor(modelMinor)}`);
  }
  if (expected) {
    const diffs = countDifferences(expected, found, MISMATCHES_SHOWN_MAX);
    if (diffs.length) v('statement holds exactly the acknowledged movements', diffs.join('; '));
  }
  return violations;
}

/**
 * The balance at an instant against what it must be (pure).
 * @param {{ accountId: string, label: string, body: any, wantMinor: bigint }} input
 */
export function checkBalanceAt({ accountId, label, body, wantMinor }) {
  const got = parseSignedMinor(body.balance);
  return got === wantMinor ? [] : [{ invariant: 'balance at an instant', detail: `account ${accountId}: at ${label} (${body.at}) ${formatMinor(got)}, expected ${formatMinor(wantMinor)}` }];
}

/**
 * The ledger verification pages against the accounts of the run (pure).
 * @param {{ ok: boolean, accountsChecked: number, entriesChecked: number, firstBreak?: { accountId: string, entryId: string, reason: string } }[]} pages
 * @param {number} accountsMin the run's customer accounts (the settlement account comes on top)
 */
export function checkLedgerVerification(pages, accountsMin) {
  const violations = [];
  for (const page of pages) {
    if (!page.ok) {
      const b = page.firstBreak;
      violations.push({ invariant: 'ledger verified (GET /admin/ledger/verify)', detail: b ? `account ${b.accountId}: entry ${b.entryId}: ${b.reason}` : 'ok: false without a break' });
    }
  }
  const accounts = pages.reduce((s, p) => s + p.accountsChecked, 0);
  if (accounts < accountsMin) violations.push({ invariant: 'ledger verified (GET /admin/ledger/verify)', detail: `${accounts} accounts checked, the run has ${accountsMin}` });
  return violations;
}

/**
 * GET until a final answer: 200 (its body), or a definitive refusal (returned
 * too: the caller reports it); 5xx, 429 and no answer are retried, bounded.
 */
async function getFinal(baseUrl, path, headersOf) {
  let answer;
  for (let attempt = 1; attempt <= READ_ATTEMPTS_MAX; attempt++) {
    answer = await exchange(baseUrl, 'GET', path, { headers: headersOf() });
    if (answer.status !== undefined && answer.status < 500 && answer.status !== 429) return answer;
    await sleep(READ_RETRY_DELAY_MS);
  }
  return answer;
}

const refused = (what, answer) => ({ invariant: `${what} readable`, detail: `GET answered ${answer.status ?? answer.error}${answer.body?.code ? ` ${answer.body.code}` : ''}` });

/** One account: its posted balance, its statement since `fromIso`, its balance now and at `fromIso`. */
async function checkAccount({ baseUrl, accountId, auth, fromIso, openingMinor, modelMinor, expected }) {
  const headersOf = () => auth.headersFor(accountId);
  const violations = [];
  const failed = (what, answer) => {
    const r = refused(what, answer);
    violations.push({ invariant: r.invariant, detail: `account ${accountId}: ${r.detail}` });
  };
  const balance = await getFinal(baseUrl, `/accounts/${accountId}/balance`, headersOf);
  if (balance.status !== 200) {
    failed('balance', balance);
    return { violations, entries: 0 };
  }
  const postedMinor = parseSignedMinor(balance.body.posted);
  const statement = await getFinal(baseUrl, `/accounts/${accountId}/statement?format=json&from=${encodeURIComponent(fromIso)}`, headersOf);
  if (statement.status === 200) violations.push(...checkStatement({ accountId, statement: statement.body, postedMinor, modelMinor, openingMinor, expected }));
  else failed('statement', statement);
  const nowIso = new Date().toISOString();
  for (const [label, at, wantMinor] of [['now', nowIso, postedMinor], ['before the first operation', fromIso, openingMinor]]) {
    const answer = await getFinal(baseUrl, `/accounts/${accountId}/balance?at=${encodeURIComponent(at)}`, headersOf);
    if (answer.status === 200) violations.push(...checkBalanceAt({ accountId, label, body: answer.body, wantMinor }));
    else failed('balance at an instant', answer);
  }
  return { violations, entries: statement.status === 200 ? statement.body.entries.length : 0 };
}

/** Every page of GET /admin/ledger/verify (bounded), as admin. */
async function readLedgerVerification(baseUrl, adminHeaders) {
  const pages = [];
  let after;
  for (let page = 0; page < VERIFY_PAGES_MAX; page++) {
    const answer = await getFinal(baseUrl, `/admin/ledger/verify?limit=${VERIFY_PAGE_ACCOUNTS}${after ? `&after=${after}` : ''}`, () => adminHeaders);
    if (answer.status !== 200) return { pages, error: refused('ledger verification', answer) };
    pages.push(answer.body);
    after = answer.body.next;
    if (!after) return { pages };
  }
  return { pages, error: { invariant: 'ledger verification readable', detail: `more than ${VERIFY_PAGES_MAX} pages` } };
}

/**
 * Reads and checks everything above for every account (READ_CONCURRENCY at a time).
 * @param {{
 *   baseUrl: string, accounts: string[], auth: { headersFor: (accountId: string) => Record<string, string> },
 *   adminHeaders: Record<string, string> | undefined, fromIso: string,
 *   initialMinor: Map<string, bigint>, modelMinor: Map<string, bigint>, ops: import('./model.d.mts').Op[],
 * }} options
 */
export async function readStatementFacts({ baseUrl, accounts, auth, adminHeaders, fromIso, initialMinor, modelMinor, ops }) {
  const expected = expectedEntries(ops);
  const violations = [];
  let entries = 0;
  const queue = [...accounts];
  const worker = async () => {
    for (let accountId = queue.shift(); accountId !== undefined; accountId = queue.shift()) {
      const result = await checkAccount({ baseUrl, accountId, auth, fromIso, openingMinor: initialMinor.get(accountId), modelMinor: modelMinor.get(accountId), expected: expected.get(accountId) ?? new Map() });
      violations.push(...result.violations);
      entries += result.entries;
    }
  };
  await Promise.all(Array.from({ length: READ_CONCURRENCY }, worker));
  let verification = { pages: [] };
  if (adminHeaders) {
    verification = await readLedgerVerification(baseUrl, adminHeaders);
    violations.push(...(verification.error ? [verification.error] : checkLedgerVerification(verification.pages, accounts.length)));
  } else violations.push({ invariant: 'ledger verified (GET /admin/ledger/verify)', detail: 'no admin token' });
  return {
    violations,
    statements: accounts.length,
    statementEntries: entries,
    verifiedAccounts: verification.pages.reduce((s, p) => s + p.accountsChecked, 0),
    verifiedEntries: verification.pages.reduce((s, p) => s + p.entriesChecked, 0),
  };
}
