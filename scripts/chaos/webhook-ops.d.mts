// Types for scripts/chaos/webhook-ops.mjs (unit-tested in test/chaos/webhooks.test.ts).
import type { DeliveryLogEntry, Redelivery } from './webhook-facts.mjs';

export interface WebhookOpsStats {
  logReads: number;
  logReadsOk: number;
  logReadsUnknown: number;
  cursorPages: number;
  redeliveries: number;
  redeliveriesOk: number;
  redeliveriesUnknown: number;
  nothingToRedeliver: number;
  /** Answers outside the contract (a 4xx other than 429), at most 20. */
  unexpected: string[];
}
export declare function pickRedelivery<T extends { id: string; status: string }>(items: T[], redelivered: Set<string>, next: () => number): T | undefined;
export declare function classifyOpsAnswer(answer: { status?: number }, okStatus: number): 'ok' | 'unknown' | 'unexpected';
export declare function runWebhookOps(options: {
  baseUrl: string;
  users: { username: string; userId: string }[];
  webhookIds: Map<string, string>;
  auth: { pool: { get: (userId: string) => { authorization: string } } };
  random: { next: () => number };
  record: (answer: object) => void;
  shouldRun: () => boolean;
  redeliveries: (Redelivery & { answeredAtMs: number; status: number | string })[];
  everyMs?: number;
  perUserMax?: number;
}): Promise<WebhookOpsStats>;
export declare function readDeliveryLog(baseUrl: string, webhookId: string, headers: () => Record<string, string>, options?: { pagesMax?: number }): Promise<DeliveryLogEntry[]>;
export declare function readDeliveryLogs(options: {
  baseUrl: string;
  users: { username: string; userId: string }[];
  webhookIds: Map<string, string>;
  auth: { pool: { get: (userId: string) => { authorization: string } } };
}): Promise<Map<string, DeliveryLogEntry[] | { error: string }>>;
