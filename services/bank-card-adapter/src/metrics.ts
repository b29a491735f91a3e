import { RED_BUCKETS_SECONDS, withTimeout, type Logger } from '@wallet/platform';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export interface AdapterMetrics {
  /** Requests by outcome: completed, declined, refunded, failed, pending, rejected (bad input), reused, in_flight, error. */
  topUps: Counter<'outcome' | 'replayed'>;
  /** What each recovery claim ended in: completed, declined, refunded, failed, still_pending, lease_lost, error. */
  recoveryActions: Counter<'action'>;
  gatewayCalls: Counter<'operation' | 'result'>;
  /** Payment gateway call latency by operation (charge, find_charge, refund), whatever the result. */
  gatewayDuration: Histogram<'operation'>;
  depositAttempts: Counter<'result'>;
  /** GetDeposit lookups of an unknown deposit outcome: applied, voided, not_found, unreachable. */
  depositLookups: Counter<'result'>;
  /** Refunds the gateway refused for good (top-up REFUND_FAILED: manual action). */
  refundsFailed: Counter<'code'>;
  /** What each reconciliation check of a failed top-up found: no_charge, declined, late_charge_refunded, lookup_failed. */
  reconciliationActions: Counter<'action'>;
  /** Top-ups not in a final state, read from the journal on each scrape (see watchUnfinishedTopUps). */
  unfinishedTopUps: Gauge;
  /** Age of the oldest unfinished top-up (0 when none), read on each scrape: the "pending too long" alert. */
  oldestUnfinishedTopUpAgeSeconds: Gauge;
  /** Top-ups in REFUND_FAILED (card charged, not credited, refund refused): alert when above 0. */
  refundFailedTopUps: Gauge;
  requestDuration: Histogram<'outcome'>;
  /** Calls refused by the caller table (src/grpc/callers.ts), by RPC and the caller's certificate name. */
  callersDenied: Counter<'rpc' | 'caller'>;
  /** Refunds to the card (issue #15) by the step that ended (debited, succeeded, failed, cancelled, still_pending) and how (request, recovery). */
  topUpRefunds: Counter<'outcome' | 'path'>;
}

/** What the journal says about unfinished top-ups (TopUpRepository.unfinishedSummary). */
export interface UnfinishedSummary {
  count: number;
  oldestAgeSeconds: number;
}

/** Bound on the scrape-time journal query: a slow database must not stall the scrape (the gauges keep their last value). */
export const UNFINISHED_QUERY_TIMEOUT_MS = 2_000;

/** Where the unfinished-top-up gauges come from: the journal, asked on each scrape. */
export interface UnfinishedSource {
  read: () => Promise<UnfinishedSummary>;
  logger: Logger;
}

/**
 * One journal query per scrape for both gauges (prom-client collects them
 * concurrently: they share the query in flight), bounded in time; on failure
 * the gauges keep their last values (and the failure is logged).
 */
function sharedSummary(source: UnfinishedSource): () => Promise<UnfinishedSummary | null> {
  let inFlight: Promise<UnfinishedSummary | null> | undefined;
  return () => {
    inFlight ??= withTimeout(source.read(), UNFINISHED_QUERY_TIMEOUT_MS, 'unfinished top-ups query')
      .catch((error: unknown) => {
        source.logger.warn({ err: error }, 'could not read unfinished top-ups for the metrics; keeping the last values');
        return null;
      })
      .finally(() => {
        inFlight = undefined;
      });
    return inFlight;
  };
}

/**
 * The unfinished-top-up gauges are read from the journal on each scrape, not
 * set by the recovery pass: the "pending too long" alert must still see a
 * backlog when the recovery loop itself is stuck or disabled.
 */
function unfinishedGauges(registry: Registry, source: UnfinishedSource | undefined): Pick<AdapterMetrics, 'unfinishedTopUps' | 'oldestUnfinishedTopUpAgeSeconds'> {
  const summary = source ? sharedSummary(source) : undefined;
  const collector = (pick: (s: UnfinishedSummary) => number) =>
    summary
      ? async function (this: Gauge) {
          const s = await summary();
          if (s) this.set(pick(s));
        }
      : undefined;
  return {
    unfinishedTopUps: new Gauge({
      name: 'card_adapter_unfinished_top_ups',
      help: 'Top-ups not yet completed, declined, refunded or failed (read from the journal on each scrape)',
      registers: [registry],
      collect: collector((s) => s.count),
    }),
    oldestUnfinishedTopUpAgeSeconds: new Gauge({
      name: 'card_adapter_oldest_unfinished_top_up_age_seconds',
      help: 'Seconds since the oldest unfinished top-up was received (0 when none; read from the journal on each scrape)',
      registers: [registry],
      collect: collector((s) => s.oldestAgeSeconds),
    }),
  };
}

export function createAdapterMetrics(registry: Registry, unfinished?: UnfinishedSource): AdapterMetrics {
  return {
    ...unfinishedGauges(registry, unfinished),
    topUps: new Counter({
      name: 'card_adapter_top_ups_total',
      help: 'ProcessCardTopUp requests by outcome',
      labelNames: ['outcome', 'replayed'],
      registers: [registry],
    }),
    recoveryActions: new Counter({
      name: 'card_adapter_recovery_actions_total',
      help: 'Unfinished top-ups taken over by the recovery loop, by what became of them',
      labelNames: ['action'],
      registers: [registry],
    }),
    gatewayCalls: new Counter({
      name: 'card_adapter_payment_gateway_calls_total',
      help: 'Payment gateway calls by operation and result',
      labelNames: ['operation', 'result'],
      registers: [registry],
    }),
    gatewayDuration: new Histogram({
      name: 'card_adapter_payment_gateway_duration_seconds',
      help: 'Payment gateway call duration by operation (charge, find_charge, refund), whatever the result',
      labelNames: ['operation'],
      buckets: RED_BUCKETS_SECONDS,
      registers: [registry],
    }),
    depositAttempts: new Counter({
      name: 'card_adapter_deposit_attempts_total',
      help: 'bank DepositMoney attempts by result',
      labelNames: ['result'],
      registers: [registry],
    }),
    depositLookups: new Counter({
      name: 'card_adapter_deposit_lookups_total',
      help: 'bank GetDeposit lookups of deposits whose outcome was unknown, by result',
      labelNames: ['result'],
      registers: [registry],
    }),
    refundsFailed: new Counter({
      name: 'card_adapter_refunds_failed_total',
      help: 'Refunds the payment gateway refused for good; each leaves a top-up REFUND_FAILED for manual action',
      labelNames: ['code'],
      registers: [registry],
    }),
    reconciliationActions: new Counter({
      name: 'card_adapter_reconciliation_actions_total',
      help: 'Checks of recent failed top-ups at the payment gateway, by what they found',
      labelNames: ['action'],
      registers: [registry],
    }),
    refundFailedTopUps: new Gauge({
      name: 'card_adapter_refund_failed_top_ups',
      help: 'Top-ups left REFUND_FAILED (card charged, not credited, refund refused) as of the last recovery pass',
      registers: [registry],
    }),
    callersDenied: new Counter({
      name: 'card_adapter_grpc_callers_denied_total',
      help: 'gRPC calls refused because the calling service (its client certificate) is not allowed to call the RPC',
      labelNames: ['rpc', 'caller'],
      registers: [registry],
    }),
    topUpRefunds: new Counter({
      name: 'card_adapter_top_up_refunds_total',
      help: 'Refunds of top-ups to the card by outcome (succeeded, failed, pending) and path (request, recovery)',
      labelNames: ['outcome', 'path'],
      registers: [registry],
    }),
    requestDuration: new Histogram({
      name: 'card_adapter_top_up_duration_seconds',
      help: 'ProcessCardTopUp duration by outcome',
      labelNames: ['outcome'],
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    }),
  };
}
