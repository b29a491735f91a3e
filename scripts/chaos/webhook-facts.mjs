// The webhook checks after a chaos run (issue 15, ADR 0022). The truth:
// - which events exist: the accounts' histories (analytics), which the other
//   checks already hold exactly once against the acknowledged operations;
// - their order per account: wallet.operations itself, read from the start
//   (the bank's outbox relays in id order, keyed by account; a re-sent batch
//   only repeats, never reorders, first copies), since the outbox rows are
//   deleted once sent.
// The promise checked: every event of a subscribed type on an account reaches
// its owner's endpoint at least once with a valid signature, nothing else
// arrives, and a later event of an account is never sent to an endpoint
// before every earlier one was acknowledged (2xx) by it.
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { parse } from 'yaml';
import { Consumer, stringDeserializer } from '@platformatic/kafka';

/** Every event type an endpoint may subscribe to: the REST contract's WebhookEventType (services/common). */
export const WEBHOOK_EVENT_TYPES = Object.freeze(webhookEventTypes());

function webhookEventTypes() {
  const document = parse(readFileSync(new URL('../../services/common/wallet-api/openapi.yaml', import.meta.url), 'utf8'));
  const types = document?.components?.schemas?.WebhookEventType?.enum;
  if (!Array.isArray(types) || types.length === 0) throw new Error('openapi.yaml: components.schemas.WebhookEventType.enum is missing');
  return types.map(String);
}

const VIOLATIONS_MAX = 200;
/** A chaos topic holding more than this is not a chaos run's. */
const RECORDS_MAX = 500_000;
const POLL_MS = 1_000;

/**
 * Each account's event ids in the order the stream carries them (first copies).
 * @param {{ brokers: string[], topic: string, timeoutMs: number }} options
 * @returns {Promise<Map<string, string[]>>}
 */
export async function readStreamOrder({ brokers, topic, timeoutMs }) {
  const consumer = new Consumer({
    clientId: 'chaos-webhook-check',
    groupId: `chaos-webhook-check-${process.pid}-${Date.now()}`,
    bootstrapBrokers: brokers,
    autocommit: false,
    maxWaitTime: 200,
    deserializers: { key: stringDeserializer, headerKey: stringDeserializer, headerValue: stringDeserializer },
  });
  const order = new Map();
  const seen = new Set();
  try {
    const ends = (await consumer.listOffsets({ topics: [topic] })).get(topic) ?? [];
    const total = ends.reduce((sum, end) => sum + end, 0n);
    if (total === 0n) return order;
    if (total > BigInt(RECORDS_MAX)) throw new Error(`${topic} holds ${total} records, more than ${RECORDS_MAX}`);
    const next = ends.map(() => 0n);
    const stream = await consumer.consume({ topics: [topic], mode: 'earliest' });
    await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`read ${seen.size} events of ${topic} (${total} records) within ${timeoutMs} ms`)), timeoutMs);
      const done = () => ends.every((end, partition) => next[partition] >= end);
      stream.on('data', (m) => {
        if (m.offset + 1n > next[m.partition]) next[m.partition] = m.offset + 1n;
        const event = JSON.parse(m.value.toString('utf8'));
        if (!seen.has(event.eventId)) {
          seen.add(event.eventId);
          if (!order.has(event.accountId)) order.set(event.accountId, []);
          order.get(event.accountId).push(event.eventId);
        }
        if (done()) {
          clearTimeout(timer);
          resolve();
        }
      });
      stream.on('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
    });
    await stream.close();
  } finally {
    await consumer.close(true);
  }
  return order;
}

/**
 * The events each account's owner should receive, from the histories (items `{ id, type }`).
 * @param {Map<string, { id: string, type: string }[]>} histories
 * @returns {Map<string, { eventId: string, eventType: string }[]>}
 */
export function expectedEvents(histories, types = WEBHOOK_EVENT_TYPES) {
  const expected = new Map();
  for (const [accountId, items] of histories) {
    expected.set(accountId, items.filter((item) => types.includes(item.type)).map((item) => ({ eventId: item.id, eventType: item.type })));
  }
  return expected;
}

/**
 * The first redelivery request of each (endpoint, delivery id) the workload sent, any answer (an
 * unanswered one may have been queued too), and how many: `${endpoint} ${deliveryId}` -> { sentAtMs, count }.
 * @param {{ endpoint: string, deliveryId: string, sentAtMs: number }[]} redeliveries
 */
function redeliveryRequests(redeliveries) {
  const requested = new Map();
  for (const r of redeliveries) {
    const key = `${r.endpoint} ${r.deliveryId}`;
    const entry = requested.get(key) ?? { sentAtMs: r.sentAtMs, count: 0 };
    entry.sentAtMs = Math.min(entry.sentAtMs, r.sentAtMs);
    entry.count += 1;
    requested.set(key, entry);
  }
  return requested;
}

function counting(deliveries, redeliveries = []) {
  const ids = new Map();
  const requested = redeliveryRequests(redeliveries);
  const counts = { deliveries: deliveries.length, distinct: 0, acknowledged: 0, answered500: 0, hung: 0, refused: 0, retries: 0, duplicates: 0, redelivered: 0 };
  for (const d of deliveries) {
    const entry = ids.get(d.deliveryId) ?? { requests: 0, acks: 0, acksAfterRedeliver: 0, redelivers: 0 };
    entry.requests += 1;
    if (d.ackSeq !== undefined) entry.acks += 1;
    // A manual redelivery of a finished delivery (ADR 0022 decision 4): sent again after a 2xx on purpose, not a duplicate.
    const asked = requested.get(`${d.endpoint} ${d.deliveryId}`);
    if (asked) {
      entry.redelivers = asked.count;
      if (d.ackSeq !== undefined && d.receivedAtMs >= asked.sentAtMs) entry.acksAfterRedeliver += 1;
    }
    ids.set(d.deliveryId, entry);
    if (d.answer === 200) counts.acknowledged += 1;
    else if (d.answer === 500) counts.answered500 += 1;
    else if (d.answer === 'hang') counts.hung += 1;
    else counts.refused += 1;
  }
  counts.distinct = ids.size;
  for (const entry of ids.values()) {
    // Sent again after a failed attempt (500, no answer) vs again after a 2xx (at-least-once after a crash).
    counts.retries += entry.requests - 1 - Math.max(0, entry.acks - 1);
    const redelivered = Math.min(entry.acksAfterRedeliver, entry.redelivers, Math.max(0, entry.acks - 1));
    counts.redelivered += redelivered;
    counts.duplicates += Math.max(0, entry.acks - 1 - redelivered);
  }
  return counts;
}

/** Per (endpoint, account): a later event arrived before an earlier one was acknowledged. */
function orderViolations({ deliveries, order, endpointOf, known, add }) {
  const firstAck = new Map(); // `${endpoint} ${eventId}` -> lowest ackSeq
  const arrivals = new Map(); // `${endpoint} ${accountId}` -> deliveries
  for (const d of deliveries) {
    if (!d.signatureValid || known.get(d.eventId)?.accountId !== d.accountId) continue;
    const key = `${d.endpoint} ${d.eventId}`;
    if (d.ackSeq !== undefined && !(firstAck.get(key) <= d.ackSeq)) firstAck.set(key, d.ackSeq);
    const queue = `${d.endpoint} ${d.accountId}`;
    if (!arrivals.has(queue)) arrivals.set(queue, []);
    arrivals.get(queue).push(d);
  }
  for (const [queue, list] of arrivals) {
    const [endpoint, accountId] = queue.split(' ');
    if (endpointOf.get(accountId) !== endpoint) continue; // reported as misdirected
    const events = (order.get(accountId) ?? []).filter((id) => known.get(id)?.accountId === accountId);
    // acknowledgedBefore[j]: when every event before the j-th was acknowledged (Infinity: not all were).
    const indexOf = new Map(events.map((id, j) => [id, j]));
    const acknowledgedBefore = [0];
    for (const id of events) acknowledgedBefore.push(Math.max(acknowledgedBefore.at(-1), firstAck.get(`${endpoint} ${id}`) ?? Infinity));
    let reported = 0;
    for (const d of list) {
      const j = indexOf.get(d.eventId);
      // A re-send of an event this endpoint already acknowledged (a manual redelivery goes out of order
      // on purpose, ADR 0022 decision 4; or at-least-once after a crash) holds no order promise.
      const alreadyAcknowledged = (firstAck.get(`${endpoint} ${d.eventId}`) ?? Infinity) < d.seq;
      if (j === undefined || alreadyAcknowledged || acknowledgedBefore[j] < d.seq || reported > 2) continue;
      reported += 1;
      const waiting = events.slice(0, j).find((id) => !((firstAck.get(`${endpoint} ${id}`) ?? Infinity) < d.seq));
      add('webhook deliveries in per-account order', `${d.eventType} ${d.eventId} of account ${accountId} sent to ${endpoint} before ${waiting} (earlier in the stream) was acknowledged`);
    }
  }
}

/**
 * @param {{
 *   deliveries: import('./webhook-receiver.d.mts').ReceivedDelivery[],
 *   expected: Map<string, { eventId: string, eventType: string }[]>,
 *   order: Map<string, string[]> | undefined,
 *   endpointOf: Map<string, string>,
 *   overflow?: number,
 *   redeliveries?: { endpoint: string, deliveryId: string, sentAtMs: number }[],
 * }} facts redeliveries: every manual redelivery the workload asked (any answer): their re-sends count as `redelivered`, not `duplicates`
 * @returns {{ violations: { invariant: string, detail: string }[], counts: ReturnType<typeof counting> & { expected: number, missing: number } }}
 */
export function checkWebhookDeliveries({ deliveries, expected, order, endpointOf, overflow = 0, redeliveries = [] }) {
  const violations = [];
  const add = (invariant, detail) => {
    if (violations.length < VIOLATIONS_MAX) violations.push({ invariant, detail });
  };
  const known = new Map();
  for (const [accountId, events] of expected) for (const e of events) known.set(e.eventId, { accountId, eventType: e.eventType });
  if (overflow > 0) add('the receiver kept every delivery', `${overflow} deliveries past its bound were not recorded; the checks below are incomplete`);
  const delivered = new Set();
  for (const d of deliveries) {
    const truth = known.get(d.eventId);
    if (!d.signatureValid) add('webhook signatures valid', `${d.endpoint}: delivery ${d.deliveryId} (${d.eventType} ${d.eventId}) failed the Standard Webhooks check with the endpoint's secret`);
    else if (!truth) add('no webhook for an event that does not exist', `${d.endpoint}: ${d.eventType} ${d.eventId} of account ${d.accountId} is in no history`);
    else if (truth.accountId !== d.accountId || truth.eventType !== d.eventType) {
      add('no webhook for an event that does not exist', `${d.endpoint}: ${d.eventId} arrived as ${d.eventType} of ${d.accountId}, the history has ${truth.eventType} of ${truth.accountId}`);
    } else if (endpointOf.get(d.accountId) !== d.endpoint) add("webhooks only to the account owner's endpoint", `${d.eventType} ${d.eventId} of account ${d.accountId} arrived at ${d.endpoint}`);
    else if (d.ackSeq !== undefined) delivered.add(d.eventId);
  }
  let missing = 0;
  for (const [accountId, events] of expected) {
    for (const e of events) {
      if (delivered.has(e.eventId)) continue;
      missing += 1;
      add('every event delivered to its webhook', `${e.eventType} ${e.eventId} of account ${accountId} never acknowledged at ${endpointOf.get(accountId) ?? 'no endpoint'}`);
    }
  }
  if (!order) add('webhook deliveries in per-account order', 'the stream could not be read: order not checked');
  else orderViolations({ deliveries, order, endpointOf, known, add });
  return { violations, counts: { ...counting(deliveries, redeliveries), expected: known.size, missing } };
}

const LOG_VIOLATIONS_MAX = 100;

/**
 * The manual redeliveries answered 2xx whose delivery has not arrived at its endpoint since the
 * request was sent (the receiver's clock and the client's are the same process's Date.now()).
 * @param {import('./webhook-receiver.d.mts').ReceivedDelivery[]} deliveries
 * @param {{ endpoint: string, deliveryId: string, sentAtMs: number, ok: boolean }[]} redeliveries
 */
export function redeliveriesNotReceived(deliveries, redeliveries, { acknowledged = false } = {}) {
  const lastArrival = new Map(); // `${endpoint} ${deliveryId}` -> latest receivedAtMs (acknowledged ones only when asked)
  for (const d of deliveries) {
    if (acknowledged && d.ackSeq === undefined) continue;
    const key = `${d.endpoint} ${d.deliveryId}`;
    if (!(lastArrival.get(key) >= d.receivedAtMs)) lastArrival.set(key, d.receivedAtMs);
  }
  return redeliveries.filter((r) => r.ok && !(lastArrival.get(`${r.endpoint} ${r.deliveryId}`) >= r.sentAtMs));
}

/**
 * The delivery log (GET /webhooks/{id}/deliveries, every page, read after the run) against what the
 * receiver saw (issue 15, ADR 0022): every delivery the receiver acknowledged is in its endpoint's
 * log as `succeeded`; no delivery is `failed` (the run's retries settle well within the window);
 * a delivery's `attempts` is at least the number of times the receiver saw its webhook-id (the
 * service counts an attempt when it claims it, before sending); each redelivery answered 2xx
 * arrived at the receiver again after it was asked.
 * @param {{
 *   logs: Map<string, { id: string, status: string, attempts: number, eventId?: string }[] | { error: string }>,
 *   deliveries: import('./webhook-receiver.d.mts').ReceivedDelivery[],
 *   redeliveries?: { endpoint: string, deliveryId: string, sentAtMs: number, ok: boolean }[],
 * }} facts logs: endpoint key -> its whole log, or why it could not be read
 * @returns {{ violations: { invariant: string, detail: string }[], counts: { endpoints: number, entries: number, succeeded: number, pending: number, failed: number, redeliveriesOk: number, redeliveriesReceived: number } }}
 */
export function checkDeliveryLogs({ logs, deliveries, redeliveries = [] }) {
  const violations = [];
  const add = (invariant, detail) => {
    if (violations.length < LOG_VIOLATIONS_MAX) violations.push({ invariant, detail });
  };
  const counts = { endpoints: logs.size, entries: 0, succeeded: 0, pending: 0, failed: 0, redeliveriesOk: 0, redeliveriesReceived: 0 };
  const entries = new Map(); // `${endpoint} ${deliveryId}` -> log entry
  for (const [endpoint, log] of logs) {
    if (!Array.isArray(log)) {
      add('the delivery log readable', `${endpoint}: ${log.error}`);
      continue;
    }
    for (const entry of log) {
      counts.entries += 1;
      if (entry.status === 'succeeded') counts.succeeded += 1;
      else if (entry.status === 'pending') counts.pending += 1;
      else if (entry.status === 'failed') counts.failed += 1;
      entries.set(`${endpoint} ${entry.id}`, entry);
      if (entry.status === 'failed') add('no delivery failed in the log', `${endpoint}: delivery ${entry.id} (${entry.eventId ?? '?'}) is failed after ${entry.attempts} attempts`);
    }
  }
  const seen = new Map(); // `${endpoint} ${deliveryId}` -> { arrivals, acknowledged }
  for (const d of deliveries) {
    if (!logs.has(d.endpoint) || !Array.isArray(logs.get(d.endpoint))) continue;
    const key = `${d.endpoint} ${d.deliveryId}`;
    const s = seen.get(key) ?? { arrivals: 0, acknowledged: false };
    s.arrivals += 1;
    if (d.ackSeq !== undefined) s.acknowledged = true;
    seen.set(key, s);
  }
  for (const [key, s] of seen) {
    const [endpoint, deliveryId] = key.split(' ');
    const entry = entries.get(key);
    if (!entry) {
      if (s.acknowledged) add('every acknowledged delivery in the log as succeeded', `${endpoint}: delivery ${deliveryId} acknowledged by the receiver is not in the endpoint's log`);
      continue;
    }
    if (s.acknowledged && entry.status !== 'succeeded') add('every acknowledged delivery in the log as succeeded', `${endpoint}: delivery ${deliveryId} acknowledged by the receiver is ${entry.status} in the log`);
    if (!(entry.attempts >= s.arrivals)) add('log attempts count every send', `${endpoint}: delivery ${deliveryId} has ${entry.attempts} attempts in the log, the receiver saw it ${s.arrivals} times`);
  }
  const ok = redeliveries.filter((r) => r.ok);
  counts.redeliveriesOk = ok.length;
  const notReceived = redeliveriesNotReceived(deliveries, ok);
  counts.redeliveriesReceived = ok.length - notReceived.length;
  for (const r of notReceived) add('every redelivery received again', `${r.endpoint}: delivery ${r.deliveryId} redelivered (2xx) at ${new Date(r.sentAtMs).toISOString()} never arrived after that`);
  return { violations, counts };
}

/**
 * Waits (bounded) until every expected event was acknowledged at its endpoint, and every
 * redelivery answered 2xx acknowledged again after it was asked.
 * @returns {Promise<number>} how long it waited, ms
 */
export async function waitForWebhookDeliveries({ receiver, expected, endpointOf, waitMs, redeliveries = [] }) {
  const startedMs = Date.now();
  for (;;) {
    const acked = new Set(receiver.deliveries.filter((d) => d.ackSeq !== undefined && d.signatureValid && endpointOf.get(d.accountId) === d.endpoint).map((d) => d.eventId));
    const waiting =
      [...expected.values()].some((events) => events.some((e) => !acked.has(e.eventId))) || redeliveriesNotReceived(receiver.deliveries, redeliveries, { acknowledged: true }).length > 0;
    if (!waiting || Date.now() - startedMs > waitMs) return Date.now() - startedMs;
    await sleep(POLL_MS);
  }
}
