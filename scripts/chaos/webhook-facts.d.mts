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
  /** Acknowledged again after a manual redelivery the workload asked (not counted as duplicates). */
  redelivered: number;
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
  redeliveries?: Redelivery[];
}): { violations: { invariant: string; detail: string }[]; counts: WebhookCounts };
export declare function waitForWebhookDeliveries(options: {
  receiver: WebhookReceiver;
  expected: Map<string, { eventId: string; eventType: string }[]>;
  endpointOf: Map<string, string>;
  waitMs: number;
  redeliveries?: Redelivery[];
}): Promise<number>;
/** A manual redelivery the workload asked: ok when answered 2xx. */
export interface Redelivery {
  endpoint: string;
  deliveryId: string;
  sentAtMs: number;
  ok: boolean;
}
/** One entry of GET /webhooks/{id}/deliveries (the fields the checks read). */
export interface DeliveryLogEntry {
  id: string;
  status: string;
  attempts: number;
  eventId?: string;
}
export interface DeliveryLogCounts {
  endpoints: number;
  entries: number;
  succeeded: number;
  pending: number;
  failed: number;
  redeliveriesOk: number;
  redeliveriesReceived: number;
}
export declare function redeliveriesNotReceived(deliveries: ReceivedDelivery[], redeliveries: Redelivery[], options?: { acknowledged?: boolean }): Redelivery[];
export declare function checkDeliveryLogs(facts: {
  logs: Map<string, DeliveryLogEntry[] | { error: string }>;
  deliveries: ReceivedDelivery[];
  redeliveries?: Redelivery[];
}): { violations: { invariant: string; detail: string }[]; counts: DeliveryLogCounts };
