// The webhook-service's metrics, in the registry every service builds.
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { Logger } from '@wallet/platform';

export interface WebhookMetrics {
  deliveries: Counter<'outcome'>;
  attemptSeconds: Histogram<'outcome'>;
  events: Counter<'outcome'>;
  requests: Counter<'rpc' | 'outcome'>;
  callersDenied: Counter<'rpc' | 'caller'>;
}

/** `queue` is read at scrape time: pending deliveries and the age of the oldest. */
export function createWebhookMetrics(
  registry: Registry,
  queue: { read: () => Promise<{ pending: number; oldestAgeSeconds: number }>; logger: Logger },
): WebhookMetrics {
  const registers = [registry];
  let last: Promise<{ pending: number; oldestAgeSeconds: number }> | undefined;
  // One query per scrape for both gauges.
  const read = () => {
    last ??= queue.read().finally(() => setTimeout(() => (last = undefined), 0));
    return last;
  };
  new Gauge({
    name: 'webhook_deliveries_pending',
    help: 'Deliveries waiting for their first or next attempt',
    registers,
    async collect() {
      this.set(await read().then((s) => s.pending, (error: unknown) => (queue.logger.debug({ err: error }, 'queue stats failed'), 0)));
    },
  });
  new Gauge({
    name: 'webhook_delivery_oldest_pending_age_seconds',
    help: 'Age of the oldest pending delivery',
    registers,
    async collect() {
      this.set(await read().then((s) => s.oldestAgeSeconds, () => 0));
    },
  });
  return {
    deliveries: new Counter({ name: 'webhook_deliveries_total', help: 'Delivery attempts by outcome (succeeded, pending = will retry, failed = gave up)', labelNames: ['outcome'], registers }),
    attemptSeconds: new Histogram({
      name: 'webhook_delivery_attempt_seconds',
      help: 'Duration of one delivery attempt (sign, connect, answer)',
      labelNames: ['outcome'],
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    }),
    events: new Counter({ name: 'webhook_events_consumed_total', help: 'wallet.operations events consumed (stored, or invalid and skipped)', labelNames: ['outcome'], registers }),
    requests: new Counter({ name: 'webhook_requests_total', help: 'gRPC requests by RPC and outcome (ok or the error reason)', labelNames: ['rpc', 'outcome'], registers }),
    callersDenied: new Counter({ name: 'webhook_grpc_callers_denied_total', help: 'gRPC calls refused by the caller table', labelNames: ['rpc', 'caller'], registers }),
  };
}
