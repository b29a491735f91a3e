// The webhook-service under the bench's load (issue 15). After the bench users
// exist, each of them (bench-w…, bench-hot) registers one webhook endpoint for
// every event type, through the gateway with its own token and an
// Idempotency-Key, like a real client, pointing at its own path of a loopback
// receiver the bench runs. The receiver answers 200, verifies every Standard
// Webhooks signature (the chaos receiver's verifier, scripts/chaos/webhook-receiver.mjs)
// with the secret the registration returned, and keeps counters and an HDR
// histogram of the delivery lag (receipt time − the event's occurredAt), never
// the bodies: its memory is bounded whatever the run's length. At the end the
// bench reads from PostgreSQL how many of the run's events are still undelivered.
import { createServer } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import * as hdr from 'hdr-histogram-js';
import pg from 'pg';
import { readBoundedBody, verifyWebhookSignature } from '../../scripts/chaos/webhook-receiver.mjs';
import { WEBHOOK_EVENT_TYPES } from '../../scripts/chaos/webhook-facts.mjs';

/**
 * The webhook-service's env in the bench (passed as `env: { webhooks: … }`, like the chaos run):
 * the receiver is on 127.0.0.1, which the service refuses unless told otherwise. Everything else
 * is the service's default (dispatch concurrency 16, 4 per endpoint, 10 s delivery deadline).
 */
export const BENCH_WEBHOOK_ENV = Object.freeze({ WEBHOOK_ALLOW_LOOPBACK_URLS: 'true' });

/** Per-second receipt counts kept for the peak rate: at most a day's worth (a 30-minute soak needs 1,800). */
const SECONDS_KEPT_MAX = 86_400;
/** Registration retries (the gateway or the webhook-service still warming up): a bound, not a wait. */
const REGISTER_MS_MAX = 60_000;
/** The window of the peak delivery rate. */
export const PEAK_WINDOW_S = 10;

/** Lag histogram: 1 ms .. 1 day, 3 significant digits (a fixed few tens of KiB). */
export function newLagHistogram() {
  return hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 86_400_000, numberOfSignificantValueDigits: 3 });
}

/**
 * The delivery lag of one received body: receipt time − its `occurredAt` (ms, at least 0: the two
 * clocks are this machine's, a negative value is rounding). undefined when the body has no valid
 * `occurredAt`.
 * @param {string} body
 * @param {number} receivedAtMs
 */
export function deliveryLagMs(body, receivedAtMs) {
  let occurredAt;
  try {
    occurredAt = JSON.parse(body)?.occurredAt;
  } catch {
    return undefined;
  }
  const at = typeof occurredAt === 'string' ? Date.parse(occurredAt) : NaN;
  if (!Number.isFinite(at)) return undefined;
  return Math.max(0, receivedAtMs - at);
}

/**
 * The best rate over any `windowS` consecutive seconds of a per-second count series
 * (seconds without receipts count as 0).
 * @param {Map<number, number>} perSecond epoch second -> receipts in it
 */
export function peakRate(perSecond, windowS = PEAK_WINDOW_S) {
  if (perSecond.size === 0) return 0;
  const seconds = [...perSecond.keys()].sort((a, b) => a - b);
  let best = 0;
  let sum = 0;
  let tail = 0;
  // Sliding window over the seconds that have receipts (others add 0).
  for (let head = 0; head < seconds.length; head++) {
    sum += perSecond.get(seconds[head]);
    while (seconds[tail] <= seconds[head] - windowS) sum -= perSecond.get(seconds[tail++]);
    best = Math.max(best, sum);
  }
  return Math.round((best / windowS) * 10) / 10;
}

/**
 * What the report says about the deliveries (pure: counters + the lag histogram + the backlog read).
 * @param {{ received: number, valid: number, invalid: number, unknownPath: number, noOccurredAt: number,
 *           firstAtMs?: number, lastAtMs?: number, perSecond: Map<number, number> }} counts
 * @param {{ getValueAtPercentile(p: number): number, maxValue: number, totalCount: number }} lag
 * @param {{ expectedEvents: number, fannedOut: number, succeeded: number, pending: number, failed: number } | undefined} backlog
 */
export function webhookSummary(counts, lag, backlog) {
  const spanS = counts.firstAtMs !== undefined && counts.lastAtMs !== undefined ? (counts.lastAtMs - counts.firstAtMs) / 1000 : 0;
  const lagCounted = lag.totalCount > 0;
  return {
    received: counts.received,
    validSignatures: counts.valid,
    invalidSignatures: counts.invalid,
    unknownPath: counts.unknownPath,
    withoutOccurredAt: counts.noOccurredAt,
    receivingS: Math.round(spanS * 10) / 10,
    deliveriesPerS: spanS > 0 ? Math.round((counts.valid / spanS) * 10) / 10 : 0,
    peakDeliveriesPerS: peakRate(counts.perSecond),
    lagMs: lagCounted
      ? { p50: lag.getValueAtPercentile(50), p99: lag.getValueAtPercentile(99), max: lag.maxValue, count: lag.totalCount }
      : { p50: null, p99: null, max: null, count: 0 },
    backlog: backlog && {
      ...backlog,
      // The run's events the receiver has not got yet: stored but not sent, and not even fanned out.
      undelivered: Math.max(0, backlog.expectedEvents - backlog.succeeded),
      notFannedOut: Math.max(0, backlog.expectedEvents - backlog.fannedOut),
    },
  };
}

/**
 * The bench's receiver: one path per endpoint (/hooks/<username>), 200 for every delivery (also
 * one whose signature does not verify: it is counted, and a 4xx would only make the service retry
 * it), every signature verified. Bounded: counters, the histogram, a per-second count map.
 */
export async function startBenchWebhookReceiver() {
  const secrets = new Map();
  const lag = newLagHistogram();
  const counts = { received: 0, valid: 0, invalid: 0, unknownPath: 0, noOccurredAt: 0, firstAtMs: undefined, lastAtMs: undefined, perSecond: new Map() };
  const server = createServer((request, response) => {
    const receivedAtMs = Date.now();
    const endpoint = /^\/hooks\/([\w.-]{1,100})$/.exec(request.url ?? '')?.[1];
    void readBoundedBody(request).then((body) => {
      counts.received += 1;
      if (!endpoint || !secrets.has(endpoint)) {
        counts.unknownPath += 1;
        response.writeHead(404).end();
        return;
      }
      const header = (name) => (typeof request.headers[name] === 'string' ? request.headers[name] : undefined);
      const headers = { 'webhook-id': header('webhook-id'), 'webhook-timestamp': header('webhook-timestamp'), 'webhook-signature': header('webhook-signature') };
      const valid = body !== undefined && verifyWebhookSignature(secrets.get(endpoint), headers, body, Math.floor(receivedAtMs / 1000));
      if (!valid) {
        counts.invalid += 1;
      } else {
        counts.valid += 1;
        counts.firstAtMs ??= receivedAtMs;
        counts.lastAtMs = receivedAtMs;
        const second = Math.floor(receivedAtMs / 1000);
        if (counts.perSecond.has(second) || counts.perSecond.size < SECONDS_KEPT_MAX) counts.perSecond.set(second, (counts.perSecond.get(second) ?? 0) + 1);
        const lagMs = deliveryLagMs(body, receivedAtMs);
        if (lagMs === undefined) counts.noOccurredAt += 1;
        else lag.recordValue(Math.min(Math.max(1, lagMs), 86_400_000));
      }
      response.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
    });
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address();
  return {
    urlFor: (endpoint) => `http://127.0.0.1:${port}/hooks/${endpoint}`,
    setSecret: (endpoint, secret) => void secrets.set(endpoint, secret),
    endpoints: () => secrets.size,
    counts,
    lag,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/**
 * Each actor (one per bench user) registers one endpoint for every event type, as a client would:
 * POST /webhooks through the gateway with its token and an Idempotency-Key; a 5xx, 409, 429 or a
 * network error is sent again with the same key (bounded). The secret goes to the receiver only.
 * @param {{ baseUrl: string, actors: { username: string, headers: () => Record<string, string> }[],
 *           receiver: { urlFor: (e: string) => string, setSecret: (e: string, s: string) => void }, runId: string }} options
 */
export async function registerBenchWebhooks({ baseUrl, actors, receiver, runId }) {
  const deadlineMs = Date.now() + REGISTER_MS_MAX;
  const ids = [];
  for (const { username, headers } of actors) {
    const body = JSON.stringify({ url: receiver.urlFor(username), events: [...WEBHOOK_EVENT_TYPES] });
    const key = `bench-${runId}-webhook-${username}`;
    for (let attempt = 0; ; attempt++) {
      let status;
      let answer;
      try {
        const res = await fetch(`${baseUrl}/webhooks`, {
          method: 'POST',
          headers: { ...headers(), 'content-type': 'application/json', 'idempotency-key': key },
          body,
          signal: AbortSignal.timeout(10_000),
        });
        status = res.status;
        answer = await res.json().catch(() => undefined);
      } catch (error) {
        status = `network: ${error?.cause?.code ?? error?.name ?? 'error'}`;
      }
      if (status === 201 && typeof answer?.secret === 'string') {
        receiver.setSecret(username, answer.secret);
        ids.push(answer.id);
        break;
      }
      const retryable = typeof status === 'string' || status >= 500 || status === 409 || status === 429;
      if (!retryable || Date.now() > deadlineMs) {
        // Never the answer's secret or the token: the status and the error code only.
        throw new Error(`webhook of ${username} not registered: ${status} ${answer?.code ?? answer?.error ?? ''}`);
      }
      await sleep(Math.min(2_000, 200 * 2 ** attempt));
    }
  }
  return ids;
}

/**
 * The run's events and their deliveries, from PostgreSQL (the bank's ledger and the webhook-service's
 * schema in the same database): every transfer ledger entry since `sinceMs` is one event on the
 * stream, and each account's owner has one endpoint for every type, so each is one delivery.
 * @returns {Promise<{ expectedEvents: number, fannedOut: number, succeeded: number, pending: number, failed: number, oldestPendingAgeMs: number | null }>}
 */
export async function readWebhookBacklog(databaseUrl, sinceMs) {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const since = new Date(sinceMs).toISOString();
    const expected = await client.query("SELECT count(*)::bigint AS n FROM bank.ledger_entries WHERE entry_type = 'transfer' AND created_at >= $1", [since]);
    const deliveries = await client.query(
      `SELECT count(*)::bigint AS fanned_out,
              count(*) FILTER (WHERE status = 'succeeded')::bigint AS succeeded,
              count(*) FILTER (WHERE status = 'pending')::bigint AS pending,
              count(*) FILTER (WHERE status = 'failed')::bigint AS failed,
              (extract(epoch FROM now() - min(created_at) FILTER (WHERE status = 'pending')) * 1000)::bigint AS oldest_pending_ms
         FROM webhooks.deliveries`,
    );
    const d = deliveries.rows[0];
    return {
      expectedEvents: Number(expected.rows[0].n),
      fannedOut: Number(d.fanned_out),
      succeeded: Number(d.succeeded),
      pending: Number(d.pending),
      failed: Number(d.failed),
      oldestPendingAgeMs: d.oldest_pending_ms === null ? null : Number(d.oldest_pending_ms),
    };
  } finally {
    await client.end().catch(() => {});
  }
}

/**
 * The backlog right after the load, then once more after at most `drainMs` (read every second
 * until nothing is undelivered): how far behind the service was and whether it catches up.
 */
export async function webhookResult({ receiver, databaseUrl, sinceMs, drainMs, log }) {
  const atLoadEnd = await readWebhookBacklog(databaseUrl, sinceMs);
  const atLoadEndSummary = webhookSummary(receiver.counts, receiver.lag, atLoadEnd);
  const drainStartMs = Date.now();
  let backlog = atLoadEnd;
  while (backlog.expectedEvents - backlog.succeeded > 0 && Date.now() - drainStartMs < drainMs) {
    await sleep(1_000);
    backlog = await readWebhookBacklog(databaseUrl, sinceMs);
  }
  const drained = backlog.expectedEvents - backlog.succeeded <= 0;
  const result = {
    endpoints: receiver.endpoints(),
    env: { ...BENCH_WEBHOOK_ENV },
    atLoadEnd: atLoadEndSummary,
    afterDrain: { ...webhookSummary(receiver.counts, receiver.lag, backlog), waitedS: Math.round((Date.now() - drainStartMs) / 100) / 10, drained },
  };
  log?.(webhookLine(result));
  return result;
}

/** One line for the console and the logs. */
export function webhookLine(w) {
  const s = w.atLoadEnd;
  const a = w.afterDrain;
  return (
    `webhooks: ${s.received} deliveries received at the load's end (${s.deliveriesPerS}/s, peak ${s.peakDeliveriesPerS}/s over ${PEAK_WINDOW_S} s), ` +
    `lag p50 ${s.lagMs.p50} / p99 ${s.lagMs.p99} / max ${s.lagMs.max} ms, ${s.invalidSignatures} invalid signatures; ` +
    `undelivered ${s.backlog?.undelivered ?? '?'} of ${s.backlog?.expectedEvents ?? '?'} events (${s.backlog?.pending ?? '?'} pending, ${s.backlog?.notFannedOut ?? '?'} not fanned out); ` +
    `after ${a.waitedS} s more: ${a.backlog?.undelivered ?? '?'} undelivered${a.drained ? ' (drained)' : ''}, ${a.received} received`
  );
}

/** The report's section (report.md of the suite, soak.md). */
export function webhookMarkdown(w) {
  if (!w) return [];
  if (w.error) return ['## Webhooks (issue 15)', '', `Not measured: ${w.error}`, ''];
  const row = (label, s, extra = '') =>
    `| ${label} | ${s.received} | ${s.invalidSignatures} | ${s.deliveriesPerS} | ${s.peakDeliveriesPerS} | ${s.lagMs.p50 ?? '–'} | ${s.lagMs.p99 ?? '–'} | ${s.lagMs.max ?? '–'} | ${s.backlog?.expectedEvents ?? '–'} | ${s.backlog?.undelivered ?? '–'} (${s.backlog?.pending ?? '–'} pending, ${s.backlog?.notFannedOut ?? '–'} not fanned out, ${s.backlog?.failed ?? '–'} failed)${extra} |`;
  return [
    '## Webhooks (issue 15)',
    '',
    `${w.endpoints} endpoints (one per bench user, every event type, registered through the gateway) on the bench's loopback receiver, ` +
      `which answers 200 and verifies every Standard Webhooks signature. webhook-service env: ${Object.entries(w.env).map(([k, v]) => `${k}=${v}`).join(', ')} ` +
      '(the receiver is on 127.0.0.1); the rest its defaults (16 sends in flight, 4 per endpoint). Lag = receipt − the event\'s `occurredAt`. ' +
      'Deliveries/s over the first to the last receipt; peak over 10 s. Events = transfer ledger entries since the registration (each one event, each one delivery); undelivered = events − succeeded deliveries.',
    '',
    '| when | deliveries received | invalid signatures | deliveries/s | peak/s | lag p50 ms | lag p99 ms | lag max ms | events | undelivered |',
    '|---|---|---|---|---|---|---|---|---|---|',
    row('end of load', w.atLoadEnd),
    row(`+${w.afterDrain.waitedS} s (drain)`, w.afterDrain, w.afterDrain.drained ? ', drained' : ', **not drained**'),
    '',
  ];
}
