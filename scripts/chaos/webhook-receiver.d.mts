// Types for scripts/chaos/webhook-receiver.mjs (unit-tested in test/chaos/webhooks.test.ts).
import type { IncomingMessage } from 'node:http';
export interface ReceivedDelivery {
  /** The endpoint key of the path (/hooks/<endpoint>). */
  endpoint: string;
  /** webhook-id: the delivery id, the same on every retry. */
  deliveryId: string;
  eventId: string;
  eventType: string;
  accountId: string;
  signatureValid: boolean;
  /** Arrival number (one counter with ackSeq). */
  seq: number;
  /** Set when answered 200: numbered before the answer was written. */
  ackSeq?: number;
  receivedAtMs: number;
  answeredAtMs?: number;
  answer: 200 | 400 | 500 | 'hang' | 'none';
}
export interface WebhookReceiver {
  urlFor(endpoint: string): string;
  setSecret(endpoint: string, secret: string): void;
  deliveries: ReceivedDelivery[];
  stats: { requests: number; overflow: number; unknownPath: number };
  close(): Promise<void>;
}
export declare const TIMESTAMP_TOLERANCE_S: number;
export declare function verifyWebhookSignature(
  secret: string,
  headers: { 'webhook-id'?: string; 'webhook-timestamp'?: string; 'webhook-signature'?: string },
  body: string,
  nowS: number,
  toleranceS?: number,
): boolean;
export declare function chooseAnswer(next: () => number, shares: { failShare: number; hangShare: number }): 'ok' | 'fail' | 'hang';
export declare function startWebhookReceiver(options: { next: () => number; failShare?: number; hangShare?: number; deliveriesMax?: number }): Promise<WebhookReceiver>;
/** A request's body as text; undefined when over 64 KiB or the request failed. */
export declare function readBoundedBody(request: IncomingMessage): Promise<string | undefined>;
