// The webhook delivery log and manual redelivery in the chaos run (issue 15, ADR 0022): while the
// workload runs, now and then a user reads a page of their endpoint's delivery log
// (GET /webhooks/{id}/deliveries, sometimes a second page by its cursor) and asks one succeeded
// delivery of it to be sent once more (POST .../deliveries/{deliveryId}/redeliver), as that user,
// through the gateway, like every other call of the run. Under faults a call may get 5xx, 429 or
// no answer: it is counted (unknown), never retried (a redelivery has no idempotency key) and is
// no violation by itself; another 4xx is (the owner asked about their own endpoint). After the
// run every endpoint's whole log is read for the checks of webhook-facts.mjs (checkDeliveryLogs).
import { setTimeout as sleep } from 'node:timers/promises';
import { exchange } from './workload.mjs';

/** A page of the log during the workload: the contract's default size. */
const PAGE_LIMIT = 20;
/** The whole log after the run: the contract's largest page, at most this many pages per endpoint. */
const LOG_PAGE_LIMIT = 100;
const LOG_PAGES_MAX = 1_000;
/** A page of the whole log that got no 200 is asked again this many times (no fault runs then). */
const LOG_PAGE_ATTEMPTS_MAX = 10;
const LOG_PAGE_RETRY_MS = 1_000;
const UNEXPECTED_KEPT_MAX = 20;
const SLEEP_STEP_MS = 250;

/**
 * One succeeded delivery of the page(s) that was not redelivered yet, drawn with `next`, or undefined.
 * A finished delivery is the case ADR 0022 decision 4 describes: it goes out again out of order.
 * @param {{ id: string, status: string }[]} items
 * @param {Set<string>} redelivered delivery ids already asked
 * @param {() => number} next uniform in [0, 1)
 */
export function pickRedelivery(items, redelivered, next) {
  const candidates = items.filter((item) => item.status === 'succeeded' && !redelivered.has(item.id));
  if (candidates.length === 0) return undefined;
  return candidates[Math.min(candidates.length - 1, Math.floor(next() * candidates.length))];
}

/** `ok`, `unknown` (5xx, 429, no answer: the fault's) or `unexpected` (any other answer). */
export function classifyOpsAnswer(answer, okStatus) {
  if (answer.status === okStatus) return 'ok';
  if (answer.status === undefined || answer.status >= 500 || answer.status === 429) return 'unknown';
  return 'unexpected';
}

/**
 * Runs while shouldRun(): every `everyMs` the next user (round robin) reads a page of their log and
 * redelivers one succeeded delivery of it, at most `perUserMax` turns per user.
 * `redeliveries` is filled live: every redelivery asked, `ok` when answered 202.
 * @param {{
 *   baseUrl: string,
 *   users: { username: string, userId: string }[],
 *   webhookIds: Map<string, string>,
 *   auth: { pool: { get: (userId: string) => { authorization: string } } },
 *   random: { next: () => number },
 *   record: (answer: object) => void,
 *   shouldRun: () => boolean,
 *   redeliveries: { endpoint: string, deliveryId: string, sentAtMs: number, answeredAtMs: number, status: number | string, ok: boolean }[],
 *   everyMs?: number,
 *   perUserMax?: number,
 * }} options
 */
export async function runWebhookOps({ baseUrl, users, webhookIds, auth, random, record, shouldRun, redeliveries, everyMs = 3_000, perUserMax = 8 }) {
  const stats = { logReads: 0, logReadsOk: 0, logReadsUnknown: 0, cursorPages: 0, redeliveries: 0, redeliveriesOk: 0, redeliveriesUnknown: 0, nothingToRedeliver: 0, unexpected: [] };
  const asked = new Map(users.map((u) => [u.username, new Set()]));
  const note = (kind, answer, outcome, what) => {
    record({ kind, sentAtMs: answer.sentAtMs, answeredAtMs: answer.answeredAtMs, ok: outcome === 'ok', status: answer.status ?? answer.error, code: answer.body?.code });
    if (outcome === 'unexpected' && stats.unexpected.length < UNEXPECTED_KEPT_MAX) stats.unexpected.push(`${what}: ${answer.status} ${answer.body?.code ?? ''}`.trim());
  };
  const turnsMax = users.length * perUserMax;
  for (let turn = 0; turn < turnsMax && shouldRun(); turn++) {
    for (let waitedMs = 0; waitedMs < everyMs && shouldRun(); waitedMs += SLEEP_STEP_MS) await sleep(SLEEP_STEP_MS);
    if (!shouldRun()) break;
    const { username, userId } = users[turn % users.length];
    const webhookId = webhookIds.get(username);
    const headers = () => ({ authorization: auth.pool.get(userId).authorization });
    const items = [];
    let cursor;
    // The first page, and one time in two the next one by its cursor (keyset paging under faults).
    for (let page = 0; page < 2; page++) {
      if (page === 1 && (!cursor || random.next() >= 0.5)) break;
      const query = `limit=${PAGE_LIMIT}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
      const answer = await exchange(baseUrl, 'GET', `/webhooks/${webhookId}/deliveries?${query}`, { headers: headers() });
      const outcome = classifyOpsAnswer(answer, 200);
      stats.logReads += 1;
      if (page === 1) stats.cursorPages += 1;
      note('webhook-log', answer, outcome, `GET /webhooks/${webhookId}/deliveries?${query} of ${username}`);
      if (outcome === 'unknown') stats.logReadsUnknown += 1;
      if (outcome !== 'ok') break;
      stats.logReadsOk += 1;
      items.push(...(Array.isArray(answer.body?.items) ? answer.body.items : []));
      cursor = answer.body?.nextCursor ?? undefined;
    }
    const chosen = pickRedelivery(items, asked.get(username), random.next);
    if (!chosen) {
      if (items.length > 0) stats.nothingToRedeliver += 1;
      continue;
    }
    asked.get(username).add(chosen.id);
    const answer = await exchange(baseUrl, 'POST', `/webhooks/${webhookId}/deliveries/${chosen.id}/redeliver`, { headers: headers() });
    const outcome = classifyOpsAnswer(answer, 202);
    stats.redeliveries += 1;
    note('redeliver', answer, outcome, `redeliver ${chosen.id} of ${username}`);
    if (outcome === 'ok') stats.redeliveriesOk += 1;
    if (outcome === 'unknown') stats.redeliveriesUnknown += 1;
    redeliveries.push({ endpoint: username, deliveryId: chosen.id, sentAtMs: answer.sentAtMs, answeredAtMs: answer.answeredAtMs, status: answer.status ?? answer.error, ok: outcome === 'ok' });
  }
  return stats;
}

/**
 * An endpoint's whole delivery log, every page (bounded), as its owner; a page without a 200 is
 * asked again a few times.
 * @returns {Promise<{ id: string, status: string, attempts: number, eventId?: string }[]>}
 */
export async function readDeliveryLog(baseUrl, webhookId, headers, { pagesMax = LOG_PAGES_MAX } = {}) {
  const items = [];
  let cursor;
  for (let page = 0; page < pagesMax; page++) {
    const query = `limit=${LOG_PAGE_LIMIT}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
    let answer;
    for (let attempt = 1; attempt <= LOG_PAGE_ATTEMPTS_MAX; attempt++) {
      answer = await exchange(baseUrl, 'GET', `/webhooks/${webhookId}/deliveries?${query}`, { headers: headers() });
      if (answer.status === 200 || classifyOpsAnswer(answer, 200) === 'unexpected') break;
      await sleep(LOG_PAGE_RETRY_MS);
    }
    if (answer.status !== 200) throw new Error(`delivery log of ${webhookId}, page ${page + 1}: ${answer.status ?? answer.error} ${answer.body?.code ?? ''}`.trim());
    items.push(...answer.body.items);
    cursor = answer.body.nextCursor;
    if (!cursor) return items;
  }
  throw new Error(`delivery log of ${webhookId}: more than ${pagesMax} pages`);
}

/**
 * Every user's whole log: endpoint key (username) -> entries, or { error } when unreadable.
 * @returns {Promise<Map<string, { id: string, status: string, attempts: number, eventId?: string }[] | { error: string }>>}
 */
export async function readDeliveryLogs({ baseUrl, users, webhookIds, auth }) {
  const logs = new Map();
  for (const { username, userId } of users) {
    const headers = () => ({ authorization: auth.pool.get(userId).authorization });
    logs.set(username, await readDeliveryLog(baseUrl, webhookIds.get(username), headers).catch((error) => ({ error: error.message })));
  }
  return logs;
}
