// Types for bench/lib/webhooks.mjs (the pure parts are unit-tested in test/bench/webhooks.test.ts).
export declare const BENCH_WEBHOOK_ENV: Readonly<Record<string, string>>;
export declare const PEAK_WINDOW_S: number;
export interface LagHistogram {
  recordValue(value: number): void;
  getValueAtPercentile(percentile: number): number;
  maxValue: number;
  totalCount: number;
}
export declare function newLagHistogram(): LagHistogram;
export declare function deliveryLagMs(body: string, receivedAtMs: number): number | undefined;
export declare function peakRate(perSecond: Map<number, number>, windowS?: number): number;
export interface WebhookCounts {
  received: number;
  valid: number;
  invalid: number;
  unknownPath: number;
  noOccurredAt: number;
  firstAtMs?: number;
  lastAtMs?: number;
  perSecond: Map<number, number>;
}
export interface WebhookBacklog {
  expectedEvents: number;
  fannedOut: number;
  succeeded: number;
  pending: number;
  failed: number;
  oldestPendingAgeMs?: number | null;
}
export interface WebhookSummary {
  received: number;
  validSignatures: number;
  invalidSignatures: number;
  unknownPath: number;
  withoutOccurredAt: number;
  receivingS: number;
  deliveriesPerS: number;
  peakDeliveriesPerS: number;
  lagMs: { p50: number | null; p99: number | null; max: number | null; count: number };
  backlog: (WebhookBacklog & { undelivered: number; notFannedOut: number }) | undefined;
}
export declare function webhookSummary(
  counts: WebhookCounts,
  lag: Pick<LagHistogram, 'getValueAtPercentile' | 'maxValue' | 'totalCount'>,
  backlog: WebhookBacklog | undefined,
): WebhookSummary;
export interface WebhookResult {
  endpoints: number;
  env: Record<string, string>;
  atLoadEnd: WebhookSummary;
  afterDrain: WebhookSummary & { waitedS: number; drained: boolean };
  error?: string;
}
export interface BenchWebhookReceiver {
  urlFor(endpoint: string): string;
  setSecret(endpoint: string, secret: string): void;
  endpoints(): number;
  counts: WebhookCounts;
  lag: LagHistogram;
  close(): Promise<void>;
}
export declare function startBenchWebhookReceiver(): Promise<BenchWebhookReceiver>;
export declare function registerBenchWebhooks(options: {
  baseUrl: string;
  actors: { username: string; headers: () => Record<string, string> }[];
  receiver: Pick<BenchWebhookReceiver, 'urlFor' | 'setSecret'>;
  runId: string;
}): Promise<string[]>;
export declare function readWebhookBacklog(databaseUrl: string, sinceMs: number): Promise<WebhookBacklog>;
export declare function webhookResult(options: {
  receiver: BenchWebhookReceiver;
  databaseUrl: string;
  sinceMs: number;
  drainMs: number;
  log?: (line: string) => void;
}): Promise<WebhookResult>;
export declare function webhookLine(result: WebhookResult): string;
export declare function webhookMarkdown(result: WebhookResult | { error: string } | undefined): string[];
