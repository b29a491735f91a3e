// Standard Webhooks signing (https://www.standardwebhooks.com/): headers
// webhook-id, webhook-timestamp (seconds) and webhook-signature
// "v1,<base64 HMAC-SHA256(key, `${id}.${timestamp}.${body}`)>".
import { createHmac, timingSafeEqual } from 'node:crypto';
import { signingKey } from './secret-box.js';

export interface SignedHeaders {
  'webhook-id': string;
  'webhook-timestamp': string;
  'webhook-signature': string;
}

export function sign(secret: string, messageId: string, timestampSeconds: number, body: string): string {
  const mac = createHmac('sha256', signingKey(secret)).update(`${messageId}.${timestampSeconds}.${body}`).digest('base64');
  return `v1,${mac}`;
}

/**
 * The headers of one attempt. Several secrets (a rotation's grace period, newest
 * first) give space-separated signatures, as Standard Webhooks specifies: a
 * receiver that knows either secret verifies the message.
 */
export function signedHeaders(secrets: string | readonly string[], messageId: string, timestampSeconds: number, body: string): SignedHeaders {
  const all = typeof secrets === 'string' ? [secrets] : secrets;
  if (all.length === 0) throw new Error('no signing secret');
  return {
    'webhook-id': messageId,
    'webhook-timestamp': String(timestampSeconds),
    'webhook-signature': all.map((secret) => sign(secret, messageId, timestampSeconds, body)).join(' '),
  };
}

/**
 * A receiver's check: one of the space-separated v1 signatures matches and the
 * timestamp is within toleranceSeconds of nowSeconds (replay protection).
 */
export function verify(secret: string, headers: Partial<SignedHeaders>, body: string, nowSeconds: number, toleranceSeconds = 300): boolean {
  const id = headers['webhook-id'];
  const timestamp = Number(headers['webhook-timestamp']);
  const signatures = headers['webhook-signature'];
  if (!id || !Number.isInteger(timestamp) || !signatures) return false;
  if (Math.abs(nowSeconds - timestamp) > toleranceSeconds) return false;
  const expected = Buffer.from(sign(secret, id, timestamp, body));
  return signatures.split(' ').some((candidate) => {
    const given = Buffer.from(candidate);
    return given.length === expected.length && timingSafeEqual(given, expected);
  });
}
