// The client side of the chaos run: random transfers and card top-ups among
// the seeded accounts, each retried with its own Idempotency-Key until a
// definitive answer; a reader measuring when reads and event delivery work
// again; a token prober measuring when logins work again. Every request is
// authenticated like a real client's: it carries the bearer token of the
// account's owner (`auth.headersFor(accountId)`), fetched at each attempt so a
// retry after a refresh uses the new token. Every answer is recorded for the
// model and the recovery times.
import { setTimeout as sleep } from 'node:timers/promises';
import { classifyAnswer, classifyHoldAnswer, formatMinor, parseMinor } from './model.mjs';
import { createForcedReversalPicker, FORCED_LOOKS_MAX, needsForce } from './overdraft-facts.mjs';

const REQUEST_TIMEOUT_MS = 10_000;
const RETRY_DELAY_MS_MIN = 50;
const RETRY_DELAY_MS_MAX = 2_000;
const ANSWERS_PER_OP_MAX = 10_000;
const THINK_MS = 20;

/** Test cards of the payment gateway mock (README), with how often the workload uses each. */
export const CARDS = [
  { number: '4242424242424242', weight: 76, behaviour: 'succeeds' },
  // Charges, but the mock declines every refund of it: its top-ups are always refunded (below), so
  // a refund debited, refused by the card and credited back (refund_cancelled) happens in every run.
  { number: '4000000000005126', weight: 4, behaviour: 'succeeds; its refunds are declined', refundsDeclined: true },
  { number: '4000000000000002', weight: 8, behaviour: 'declined' },
  { number: '4000000000000119', weight: 6, behaviour: 'processing error, nothing charged' },
  { number: '4000000000001505', weight: 6, behaviour: 'charges, then the connection drops' },
];

const refundsDeclined = (number) => CARDS.some((card) => card.number === number && card.refundsDeclined);

/** Small seeded PRNG (mulberry32): a run can be replayed from its seed. */
export function createRandom(seed) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (min, max) => min + Math.floor(next() * (max - min + 1));
  const pick = (list) => list[int(0, list.length - 1)];
  const weighted = (list) => {
    let r = next() * list.reduce((s, x) => s + x.weight, 0);
    for (const x of list) if ((r -= x.weight) < 0) return x;
    return list.at(-1);
  };
  return { next, int, pick, weighted };
}

/** The problem's code (or the last part of its type URI) of an error answer, to tell e.g. an open breaker from a shed request. */
function problemCode(answer) {
  if (answer.status === undefined || answer.status < 400) return undefined;
  const body = answer.body;
  if (typeof body?.code === 'string') return body.code;
  return typeof body?.type === 'string' ? body.type.split('/').pop() : undefined;
}

/** One HTTP exchange; never throws: a network failure is an answer without a status. */
export async function exchange(baseUrl, method, path, { body, headers = {} } = {}) {
  const sentAtMs = Date.now();
  try {
    const res = await fetch(`${baseUrl}${path}`, {
      method,
      headers: body === undefined ? headers : { ...headers, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
    const text = await res.text();
    let parsed;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    return { status: res.status, body: parsed, replayed: res.headers.get('idempotent-replayed') === 'true', sentAtMs, answeredAtMs: Date.now() };
  } catch (error) {
    const cause = error?.cause?.code ?? error?.name ?? 'error';
    return { error: String(cause), sentAtMs, answeredAtMs: Date.now() };
  }
}

/**
 * Runs the workload until `shouldStart()` turns false, then lets every started
 * request finish (or reach `giveUpAtMs()`).
 * @param {{
 *   baseUrl: string, accounts: string[], workers: number, random: ReturnType<typeof createRandom>,
 *   auth: { headersFor: (accountId: string) => Record<string, string> },
 *   runId: string, topUpShare: number, transferMinor: [number, number], topUpMinor: [number, number],
 *   holdShare?: number,
 *   reversalShare?: number,
 *   refundShare?: number,
 *   overdraft?: { accounts: string[], senderShare: number, forcedShare: number, forcedMax: number, adminHeaders: () => Promise<Record<string, string> | undefined> },
 *   shouldStart: () => boolean, giveUpAtMs: () => number, record: (a: object) => void, ops?: object[],
 * }} options
 */
export async function runWorkload(options) {
  // options.ops, when given, is filled live (the reader follows it).
  const ops = options.ops ?? [];
  let counter = 0;
  // Overdrafts (ADR 0016) and forced reversals (ADR 0017): only a run that sets overdrafts draws for them.
  const overdraft = options.overdraft?.accounts.length ? options.overdraft : undefined;
  const forcedPicker = overdraft ? createForcedReversalPicker({ overdraftAccounts: overdraft.accounts, max: overdraft.forcedMax }) : undefined;
  const worker = async () => {
    while (options.shouldStart()) {
      const op = nextOp(options, `${options.runId}-${++counter}`);
      ops.push(op);
      await settleOp(options, op);
      // Drawn only when reversals are on, so a seed without them replays as before.
      let reversal;
      if (op.kind === 'transfer' && op.outcome === 'completed' && (options.reversalShare ?? 0) > 0 && options.random.next() < options.reversalShare) {
        reversal = reversalOp(op, options.random, `${options.runId}-${++counter}`);
        ops.push(reversal);
        await settleOp(options, reversal);
      }
      // Now and then the admin forces back a transfer whose recipient (likely) cannot cover it.
      if (forcedPicker && op.kind === 'transfer' && op.outcome === 'completed') {
        forcedPicker.saw(op, reversal);
        const original = options.random.next() < overdraft.forcedShare ? await pickForced(options, forcedPicker) : undefined;
        if (original) {
          const forced = forcedReversalOp(original, `${options.runId}-${++counter}`);
          ops.push(forced);
          await settleOp(options, forced);
        }
      }
      // Likewise for refunds: only a seed with them on draws for them. A card that declines refunds is always refunded.
      if (op.kind === 'topup' && op.outcome === 'completed' && (options.refundShare ?? 0) > 0 && (options.random.next() < options.refundShare || refundsDeclined(op.card))) {
        const refund = refundOp(op, options.random, `${options.runId}-${++counter}`);
        ops.push(refund);
        await settleOp(options, refund);
      }
      // A little think time: the load generator shares two cores with the system under test.
      await sleep(THINK_MS);
    }
  };
  await Promise.all(Array.from({ length: options.workers }, worker));
  return ops;
}

function nextOp({ accounts, random, topUpShare, transferMinor, topUpMinor, holdShare = 0, overdraft }, key) {
  // Drawn only when holds are on, so a seed without them replays as before.
  if (holdShare > 0 && random.next() < holdShare) return holdOp(accounts, random, transferMinor, key);
  if (random.next() < topUpShare) {
    const card = random.weighted(CARDS);
    return {
      kind: 'topup',
      key: `chaos-topup-${key}`,
      accountId: random.pick(accounts),
      amountMinor: BigInt(random.int(...topUpMinor)),
      card: card.number,
      outcome: 'unknown',
      answers: [],
    };
  }
  // An overdraft account sends more than its share, so it reaches its overdraft (drawn only when there are any).
  const from = overdraft?.accounts.length && random.next() < overdraft.senderShare ? random.pick(overdraft.accounts) : random.pick(accounts);
  let to = random.pick(accounts);
  while (to === from) to = random.pick(accounts);
  return {
    kind: 'transfer',
    key: `chaos-transfer-${key}`,
    from,
    to,
    amountMinor: BigInt(random.int(...transferMinor)),
    outcome: 'unknown',
    answers: [],
  };
}

/** The recipient's owner gives back all or part of a transfer it received (ADR 0017). */
function reversalOp(transfer, random, key) {
  const whole = random.next() < 0.5;
  return {
    kind: 'reversal',
    key: `chaos-reversal-${key}`,
    transferId: transfer.resultId,
    from: transfer.to,
    to: transfer.from,
    amountMinor: whole ? transfer.amountMinor : BigInt(random.int(1, Number(transfer.amountMinor))),
    outcome: 'unknown',
    answers: [],
  };
}

/**
 * The admin looks at the recipients of a few candidates (their balance, read
 * as their owner) and takes the first that cannot cover the transfer; the
 * others go back in line. Undefined when none (this draw forces nothing).
 */
async function pickForced({ baseUrl, auth }, picker) {
  for (let look = 0; look < FORCED_LOOKS_MAX; look++) {
    const transfer = picker.pick();
    if (!transfer) return undefined;
    const balance = await exchange(baseUrl, 'GET', `/accounts/${transfer.to}/balance`, { headers: auth.headersFor(transfer.to) });
    if (balance.status === 200 && needsForce(balance.body, transfer.amountMinor)) return transfer;
    picker.putBack(transfer);
  }
  return undefined;
}

/** The admin moves a whole transfer back with `force: true` (ADR 0017): through even when it overdraws the recipient. */
function forcedReversalOp(transfer, key) {
  return {
    kind: 'reversal',
    key: `chaos-forced-reversal-${key}`,
    transferId: transfer.resultId,
    from: transfer.to,
    to: transfer.from,
    amountMinor: transfer.amountMinor,
    force: true,
    outcome: 'unknown',
    answers: [],
  };
}

/** The account's owner refunds all (no amount: the rest) or part of a completed top-up to its card (ADR 0018). */
function refundOp(topUp, random, key) {
  const whole = random.next() < 0.5;
  return {
    kind: 'refund',
    key: `chaos-refund-${key}`,
    topUpId: topUp.resultId,
    accountId: topUp.accountId,
    whole,
    amountMinor: whole ? topUp.amountMinor : BigInt(random.int(1, Number(topUp.amountMinor))),
    outcome: 'unknown',
    answers: [],
  };
}

function requestOf(op) {
  if (op.kind === 'refund') return { path: `/topups/${op.topUpId}/refund`, body: op.whole ? {} : { amount: formatMinor(op.amountMinor) } };
  if (op.kind === 'reversal') {
    const body = { amount: formatMinor(op.amountMinor), reason: op.force ? 'chaos forced reversal' : 'chaos reversal' };
    return { path: `/transfers/${op.transferId}/reverse`, body: op.force ? { ...body, force: true } : body };
  }
  if (op.kind === 'transfer') {
    return {
      path: `/accounts/${op.from}/transfers`,
      body: { recipientAccountId: op.to, amount: formatMinor(op.amountMinor), description: 'chaos' },
    };
  }
  return {
    path: `/accounts/${op.accountId}/topup`,
    body: { amount: formatMinor(op.amountMinor), card: { number: op.card, expiryMonth: 12, expiryYear: 2035, cvc: '123' } },
  };
}

/** How the workload ends its holds, and how often (ADR 0015). */
export const HOLD_ENDINGS = [
  { ending: 'capture', weight: 40 },
  { ending: 'capture_part', weight: 20 },
  { ending: 'void', weight: 25 },
  { ending: 'expire', weight: 15 },
];
/** Holds the workload lets expire do so this long after they are made (the sweep runs every second). */
const HOLD_EXPIRY_MS = 3_000;
const HOLD_POLL_MS = 500;

function holdOp(accounts, random, transferMinor, key) {
  const from = random.pick(accounts);
  let to = random.pick(accounts);
  while (to === from) to = random.pick(accounts);
  const amountMinor = BigInt(random.int(...transferMinor));
  const { ending } = random.weighted(HOLD_ENDINGS);
  return {
    kind: 'hold',
    key: `chaos-hold-${key}`,
    from,
    to,
    amountMinor,
    ending,
    captureMinor: ending === 'capture_part' ? BigInt(random.int(1, Number(amountMinor) - 1)) : amountMinor,
    // Fixed at creation: every retry sends the same body.
    expiresAt: ending === 'expire' ? new Date(Date.now() + HOLD_EXPIRY_MS).toISOString() : undefined,
    outcome: 'unknown',
    answers: [],
  };
}

/**
 * One step of a hold until a definitive answer (retried with backoff like a
 * transfer); returns it, or undefined when the run gave up (op stays unknown).
 */
async function settleHoldStep({ baseUrl, giveUpAtMs, record, random, auth }, op, step, method, path, body, headers = {}) {
  for (let attempt = 0; op.answers.length < ANSWERS_PER_OP_MAX; attempt++) {
    const answer = await exchange(baseUrl, method, path, { body, headers: { ...auth.headersFor(op.from), ...headers } });
    const outcome = classifyHoldAnswer(step, answer);
    const ok = answer.status === 200 || answer.status === 201;
    op.answers.push({ status: answer.status, code: answer.body?.code, limit: answer.body?.limit, id: answer.status === 201 ? answer.body?.id : undefined, error: answer.error, atMs: answer.answeredAtMs });
    // Money movements count as transfers for availability (the same path through the bank).
    if (step !== 'read') record({ kind: 'transfer', sentAtMs: answer.sentAtMs, answeredAtMs: answer.answeredAtMs, ok, status: answer.status ?? answer.error, code: problemCode(answer) });
    if (outcome !== 'unknown' && !(step === 'read' && answer.body?.status === 'pending')) return { outcome, answer };
    if (Date.now() >= giveUpAtMs()) return undefined;
    const delayMs = step === 'read' && ok ? HOLD_POLL_MS : Math.min(RETRY_DELAY_MS_MAX, RETRY_DELAY_MS_MIN * 2 ** Math.min(attempt, 10));
    await sleep(delayMs / 2 + random.next() * (delayMs / 2));
  }
  return undefined;
}

/** Create, then capture (all or part), void, or wait for the expiry: every hold ends final. */
async function settleHold(options, op) {
  const createBody = {
    recipientAccountId: op.to,
    amount: formatMinor(op.amountMinor),
    description: 'chaos hold',
    ...(op.expiresAt ? { expiresAt: op.expiresAt } : {}),
  };
  const created = await settleHoldStep(options, op, 'create', 'POST', `/accounts/${op.from}/holds`, createBody, { 'idempotency-key': op.key });
  if (!created) return;
  if (created.outcome !== 'completed') {
    op.outcome = created.outcome;
    return;
  }
  op.holdId = created.answer.body.id;
  const path = `/holds/${op.holdId}`;
  const final =
    op.ending === 'expire'
      ? await settleHoldStep(options, op, 'read', 'GET', path)
      : op.ending === 'void'
        ? await settleHoldStep(options, op, 'void', 'POST', `${path}/void`)
        : await settleHoldStep(options, op, 'capture', 'POST', `${path}/capture`, { amount: formatMinor(op.captureMinor) });
  if (!final) return;
  const hold = op.ending === 'void' || op.ending === 'expire' ? final.answer.body : final.answer.body?.hold;
  const wanted = { capture: 'captured', capture_part: 'captured', void: 'voided', expire: 'expired' }[op.ending];
  if (final.outcome !== 'completed' || hold?.status !== wanted) {
    op.outcome = 'unexpected';
    return;
  }
  op.holdStatus = hold.status;
  op.capturedMinor = hold.status === 'captured' ? parseMinor(hold.capturedAmount) : 0n;
  op.resultId = hold.status === 'captured' ? final.answer.body.transfer.id : op.holdId;
  op.outcome = 'completed';
  op.completedAtMs = final.answer.answeredAtMs;
}

/** Same key, same body, same owner, until a definitive answer; backoff with jitter between attempts. */
async function settleOp({ baseUrl, giveUpAtMs, record, random, auth, overdraft }, op) {
  if (op.kind === 'hold') return settleHold({ baseUrl, giveUpAtMs, record, random, auth }, op);
  const { path, body } = requestOf(op);
  const owner = op.kind === 'transfer' || op.kind === 'reversal' ? op.from : op.accountId;
  for (let attempt = 0; op.answers.length < ANSWERS_PER_OP_MAX; attempt++) {
    // A forced reversal is the admin's (client credentials); no token (the identity-service down) = no answer, retried.
    const callerHeaders = op.force ? await overdraft.adminHeaders() : auth.headersFor(owner);
    const answer = callerHeaders
      ? await exchange(baseUrl, 'POST', path, { body, headers: { ...callerHeaders, 'idempotency-key': op.key } })
      : { error: 'no admin token', sentAtMs: Date.now(), answeredAtMs: Date.now() };
    const outcome = classifyAnswer(op.kind, answer);
    const resultId = answer.status === 201 ? answer.body?.id : undefined;
    op.answers.push({ status: answer.status, code: answer.body?.code, limit: answer.body?.limit, id: resultId, error: answer.error, atMs: answer.answeredAtMs });
    if (op.kind === 'reversal' && answer.status === 201) {
      // What the bank says it did: forced only when the bypass was needed; by whom (audited, ADR 0017).
      op.forced = answer.body?.forced === true;
      op.initiatedBy = answer.body?.initiatedBy;
    }
    // Reversals count as transfers, refunds as top-ups for availability (the same paths).
    if (callerHeaders) record({ kind: { reversal: 'transfer', refund: 'topup' }[op.kind] ?? op.kind, sentAtMs: answer.sentAtMs, answeredAtMs: answer.answeredAtMs, ok: answer.status === 201, status: answer.status ?? answer.error, code: problemCode(answer) });
    if (outcome !== 'unknown') {
      op.outcome = op.kind === 'refund' && outcome === 'completed' ? finishRefund(op, answer.body) : outcome;
      op.resultId = resultId;
      op.completedAtMs = answer.answeredAtMs;
      return;
    }
    if (Date.now() >= giveUpAtMs()) return; // stays 'unknown': the checker fails the run
    const delayMs = Math.min(RETRY_DELAY_MS_MAX, RETRY_DELAY_MS_MIN * 2 ** Math.min(attempt, 10));
    await sleep(delayMs / 2 + random.next() * (delayMs / 2));
  }
}

/** A refund's final answer: succeeded or failed, of the amount asked (the whole top-up when none was). */
function finishRefund(op, refund) {
  op.refundStatus = refund?.status;
  op.failureReason = refund?.failureReason;
  const final = refund?.status === 'succeeded' || refund?.status === 'failed';
  return final && typeof refund.amount === 'string' && parseMinor(refund.amount) === op.amountMinor && refund.topUpId === op.topUpId ? 'completed' : 'unexpected';
}

const PROBES_MAX = 8;
const PROBE_EVERY_MS = 2_000;
const PROBE_AGE_MS_MAX = 90_000;

/**
 * Reads while the workload runs: a balance and a history page now and then
 * (recovery of reads), and a few recently acknowledged transfers followed,
 * round robin, until each shows in its sender's history (recovery of event
 * delivery; precision about PROBES_MAX reader loops).
 */
export async function runReader({ baseUrl, accounts, random, ops, record, shouldRun, auth }) {
  const probes = [];
  let lastProbeMs = 0;
  for (let turn = 0; shouldRun(); turn++) {
    const accountId = random.pick(accounts);
    const balance = await exchange(baseUrl, 'GET', `/accounts/${accountId}/balance`, { headers: auth.headersFor(accountId) });
    record({ kind: 'balance', sentAtMs: balance.sentAtMs, answeredAtMs: balance.answeredAtMs, ok: balance.status === 200, status: balance.status ?? balance.error, code: problemCode(balance) });
    const nowMs = Date.now();
    const latest = ops.findLast((op) => op.kind === 'transfer' && op.outcome === 'completed');
    if (latest && nowMs - lastProbeMs >= PROBE_EVERY_MS && !probes.includes(latest)) {
      probes.push(latest);
      lastProbeMs = nowMs;
    }
    while (probes.length > PROBES_MAX || (probes[0] && nowMs - probes[0].completedAtMs > PROBE_AGE_MS_MAX)) probes.shift();
    const probe = probes.length ? probes[turn % probes.length] : undefined;
    const pageAccount = probe ? probe.from : accountId;
    const page = await exchange(baseUrl, 'GET', `/accounts/${pageAccount}/operations?limit=100&type=transfer_out`, { headers: auth.headersFor(pageAccount) });
    record({ kind: 'history', sentAtMs: page.sentAtMs, answeredAtMs: page.answeredAtMs, ok: page.status === 200, status: page.status ?? page.error, code: problemCode(page) });
    if (probe && page.status === 200 && page.body.items.some((i) => i.transferId === probe.resultId)) {
      probes.splice(probes.indexOf(probe), 1);
      // An event "succeeds" when the movement acknowledged at sentAtMs is visible in history.
      record({ kind: 'event', sentAtMs: probe.completedAtMs, answeredAtMs: page.answeredAtMs, ok: true, status: 200 });
    }
    await sleep(100);
  }
}

const TOKEN_PROBE_EVERY_MS = 2_000;

/**
 * Swaps one session's tokens (refresh grant through the gateway's /auth/token)
 * every couple of seconds, round robin, so every fault of the identity-service
 * or the gateway has a login to recover by. The sessions record each answer
 * (kind `login`); a refused refresh falls back to a password login.
 * @param {{ sessions: () => { refresh: () => Promise<void> }[], shouldRun: () => boolean, log: (line: string) => void }} options
 */
export async function runTokenProber({ sessions, shouldRun, log }) {
  let failures = 0;
  for (let turn = 0; shouldRun(); turn++) {
    const list = sessions();
    if (list.length > 0) {
      // The old token stays valid meanwhile (it was refreshed seconds ago): a failure is only recorded.
      await list[turn % list.length].refresh().catch((error) => {
        failures += 1;
        if (failures <= 5) log(`token refresh failed: ${error.message}`);
      });
    }
    await sleep(TOKEN_PROBE_EVERY_MS);
  }
  return { failures };
}

/** Every operation of an account, all pages, oldest last (bounded number of pages), read as its owner. */
export async function readHistory(baseUrl, accountId, { pagesMax = 200, headers = {} } = {}) {
  const items = [];
  let cursor;
  for (let page = 0; page < pagesMax; page++) {
    const query = `limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
    const res = await exchange(baseUrl, 'GET', `/accounts/${accountId}/operations?${query}`, { headers });
    if (res.status !== 200) throw new Error(`history of ${accountId}: ${res.status ?? res.error} ${res.body?.code ?? ''}`);
    items.push(...res.body.items);
    cursor = res.body.nextCursor;
    if (!cursor) return items;
  }
  throw new Error(`history of ${accountId}: more than ${pagesMax} pages`);
}
