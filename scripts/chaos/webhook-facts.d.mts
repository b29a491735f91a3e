// Types for scripts/chaos/webhook-facts.mjs (unit-tested in test/chaos/webhooks.test.ts).
import type { ReceivedDelivery, WebhookReceiver } from './webhook-receiver.mjs';

export declare const WEBHOOK_EVENT_TYPES: readonly string[];
export interface WebhookCounts {
  deliveries: number;
  distinct: number;
  acknowledged: number;
  answered500: number;
  hung: number;
  refused: number;
  retries: number;
  duplicates: number;
  expected: number;
  missing: number;
}
export declare function readStreamOrder(options: { brokers: string[]; topic: string; timeoutMs: number }): Promise<Map<string, string[]>>;
export declare function expectedEvents(
  histories: Map<string, { id: string; type: string }[]>,
  types?: readonly string[],
): Map<string, { eventId: string; eventType: string }[]>;
export declare function checkWebhookDeliveries(facts: {
  deliveries: ReceivedDelivery[];
  expected: Map<string, { eventId: string; eventType: string }[]>;
  order: Map<string, string[]> | undefined;
  endpointOf: Map<string, string>;
  overflow?: number;
}): { violations: { invariant: string; detail: string }[]; counts: WebhookCounts };
export declare function waitForWebhookDeliveries(options: {
  receiver: WebhookReceiver;
  expected: Map<string, { eventId: string; eventType: string }[]>;
  endpointOf: Map<string, string>;
  waitMs: number;
}): Promise<number>;
