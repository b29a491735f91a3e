// The chaos run's webhook receiver: node:http on 127.0.0.1, one path per
// registered endpoint (/hooks/<endpoint key>). Like a careful customer it
// verifies each Standard Webhooks signature with the secret the registration
// returned (its own implementation, not the service's), records every
// delivery, and answers 500 or never answers for a small random share so the
// webhook-service has to retry. Memory is bounded: at most deliveriesMax
// records (then `overflow` is counted and the check reports it).
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer } from 'node:http';

const SECRET_PREFIX = 'whsec_';
/** Standard Webhooks' recommended replay window. */
export const TIMESTAMP_TOLERANCE_S = 300;
/** An event body is small JSON; the webhook-service caps bodies at 64 KiB. */
const BODY_BYTES_MAX = 64 * 1024;
/** A "hanging" answer is cut after this long if the sender never gives up (it does: its delivery timeout). */
const HANG_MS_MAX = 30_000;

/**
 * True when one of the space-separated `v1,<base64>` signatures is the
 * HMAC-SHA256 (key = the secret's bytes after `whsec_`, base64-decoded) of
 * `<webhook-id>.<webhook-timestamp>.<body>`, and the timestamp is within
 * toleranceS of nowS.
 * @param {string} secret
 * @param {{ 'webhook-id'?: string, 'webhook-timestamp'?: string, 'webhook-signature'?: string }} headers
 * @param {string} body the raw body, exactly as received
 */
export function verifyWebhookSignature(secret, headers, body, nowS, toleranceS = TIMESTAMP_TOLERANCE_S) {
  const id = headers['webhook-id'];
  const timestampText = headers['webhook-timestamp'];
  const signatures = headers['webhook-signature'];
  if (!secret || !id || !timestampText || !signatures || !/^\d{1,12}$/.test(timestampText)) return false;
  if (Math.abs(nowS - Number(timestampText)) > toleranceS) return false;
  const key = Buffer.from(secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret, 'base64');
  const expected = Buffer.from(`v1,${createHmac('sha256', key).update(`${id}.${timestampText}.${body}`).digest('base64')}`);
  return signatures.split(' ').some((candidate) => {
    const given = Buffer.from(candidate);
    return given.length === expected.length && timingSafeEqual(given, expected);
  });
}

/**
 * What to answer one delivery: 'fail' (500), 'hang' (no answer: the sender's
 * deadline passes) or 'ok' (200), drawn with the given shares.
 * @param {() => number} next a uniform random number in [0, 1)
 */
export function chooseAnswer(next, { failShare, hangShare }) {
  const x = next();
  if (x < failShare) return 'fail';
  if (x < failShare + hangShare) return 'hang';
  return 'ok';
}

/**
 * A request's body as text, or undefined when it is over BODY_BYTES_MAX or
 * the request fails (read to its end either way, so the socket stays usable).
 * @param {import('node:http').IncomingMessage} request
 * @returns {Promise<string | undefined>}
 */
export function readBoundedBody(request) {
  return new Promise((resolve) => {
    const chunks = [];
    let bytes = 0;
    request.on('data', (chunk) => {
      bytes += chunk.length;
      if (bytes <= BODY_BYTES_MAX) chunks.push(chunk);
    });
    request.on('end', () => resolve(bytes > BODY_BYTES_MAX ? undefined : Buffer.concat(chunks).toString('utf8')));
    request.on('error', () => resolve(undefined));
  });
}

function parseEvent(body) {
  try {
    const event = JSON.parse(body);
    return { eventId: String(event.eventId ?? ''), eventType: String(event.eventType ?? ''), accountId: String(event.accountId ?? '') };
  } catch {
    return { eventId: '', eventType: '', accountId: '' };
  }
}

/**
 * @param {{ next: () => number, failShare?: number, hangShare?: number, deliveriesMax?: number }} options
 *   next: the receiver's own random source (seeded: the run's choices replay)
 * @returns {Promise<import('./webhook-receiver.d.mts').WebhookReceiver>}
 */
export async function startWebhookReceiver({ next, failShare = 0.04, hangShare = 0.02, deliveriesMax = 200_000 }) {
  const secrets = new Map();
  const deliveries = [];
  const stats = { requests: 0, overflow: 0, unknownPath: 0 };
  // One counter for arrivals and acknowledgements: their relative order is what the order check reads.
  let seq = 0;
  const server = createServer((request, response) => {
    const arrivedSeq = ++seq;
    const receivedAtMs = Date.now();
    stats.requests += 1;
    const endpoint = /^\/hooks\/([\w.-]{1,100})$/.exec(request.url ?? '')?.[1];
    void readBoundedBody(request).then((body) => {
      if (!endpoint || !secrets.has(endpoint)) {
        stats.unknownPath += 1;
        response.writeHead(404).end();
        return;
      }
      const header = (name) => (typeof request.headers[name] === 'string' ? request.headers[name] : undefined);
      const headers = { 'webhook-id': header('webhook-id'), 'webhook-timestamp': header('webhook-timestamp'), 'webhook-signature': header('webhook-signature') };
      const signatureValid = body !== undefined && verifyWebhookSignature(secrets.get(endpoint), headers, body, Math.floor(Date.now() / 1000));
      const record = { endpoint, deliveryId: headers['webhook-id'] ?? '', ...parseEvent(body ?? ''), signatureValid, seq: arrivedSeq, receivedAtMs, answer: 'none' };
      if (deliveries.length < deliveriesMax) deliveries.push(record);
      else stats.overflow += 1;
      // A bad signature is refused as a real receiver would (and is a violation of the run).
      const answer = signatureValid ? chooseAnswer(next, { failShare, hangShare }) : 'refuse';
      if (answer === 'hang') {
        record.answer = 'hang';
        const timer = setTimeout(() => request.socket.destroy(), HANG_MS_MAX);
        request.socket.once('close', () => clearTimeout(timer));
        return;
      }
      const status = answer === 'ok' ? 200 : answer === 'fail' ? 500 : 400;
      record.answer = status;
      // Numbered before the answer is written: the sender can only move on to the account's next event after this.
      if (status === 200) record.ackSeq = ++seq;
      record.answeredAtMs = Date.now();
      response.writeHead(status, { 'content-type': 'text/plain' }).end(status === 200 ? 'ok' : 'no');
    });
  });
  // Keep-alive sockets stay open across deliveries: closing them must not wait for the sender.
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address();
  return {
    urlFor: (endpoint) => `http://127.0.0.1:${port}/hooks/${endpoint}`,
    setSecret: (endpoint, secret) => void secrets.set(endpoint, secret),
    deliveries,
    stats,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
