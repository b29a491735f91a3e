import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** The service's own Prometheus metrics (process metrics come with the registry). */
export function createAnalyticsMetrics(registry: Registry) {
  return {
    eventsConsumed: new Counter({ name: 'analytics_events_consumed_total', help: 'Kafka records read from wallet.operations', registers: [registry] }),
    eventsInvalid: new Counter({
      name: 'analytics_events_invalid_total',
      help: 'Records rejected (schema-invalid, unparsable, ...) and parked in the dead-letter topic',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
    eventsDuplicate: new Counter({
      name: 'analytics_events_duplicate_total',
      help: 'Valid events skipped because their eventId was already stored or repeated in the batch',
      registers: [registry],
    }),
    eventsInserted: new Counter({ name: 'analytics_events_inserted_total', help: 'Rows inserted into ClickHouse', registers: [registry] }),
    deadLettered: new Counter({ name: 'analytics_dlq_produced_total', help: 'Records produced to the dead-letter topic', registers: [registry] }),
    batchSize: new Histogram({
      name: 'analytics_batch_size',
      help: 'Records per flushed batch',
      buckets: [1, 5, 10, 50, 100, 250, 500, 1000, 2500, 5000, 10000],
      registers: [registry],
    }),
    insertSeconds: new Histogram({
      name: 'analytics_insert_duration_seconds',
      help: 'Latency of one ClickHouse batch insert (including the duplicate lookup)',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    flushFailures: new Counter({
      name: 'analytics_flush_failures_total',
      help: 'Failed attempts to store a batch or park rejects (retried with backoff)',
      labelNames: ['stage'] as const,
      registers: [registry],
    }),
    commitFailures: new Counter({
      name: 'analytics_commit_failures_total',
      help: 'Offset commits that failed (the batch will be redelivered and deduplicated)',
      registers: [registry],
    }),
    assignedPartitions: new Gauge({
      name: 'analytics_consumer_assigned_partitions',
      help: 'Partitions of the operations topic assigned to this replica by the consumer group (0 while not joined)',
      registers: [registry],
    }),
    batchPending: new Gauge({
      name: 'analytics_batch_pending_records',
      help: 'Records read into the current batch and not flushed yet',
      registers: [registry],
    }),
    grpcCallersDenied: new Counter({
      name: 'analytics_grpc_callers_denied_total',
      help: 'gRPC calls refused before the handler ran: the caller certificate names a service not allowed to call the RPC',
      labelNames: ['rpc', 'caller'] as const,
      registers: [registry],
    }),
    consumerLag: new Gauge({
      name: 'analytics_consumer_lag',
      help: 'Records in the partition not yet processed by the consumer group: log end offset minus the committed offset (or the log start when nothing is committed)',
      labelNames: ['topic', 'partition'] as const,
      registers: [registry],
    }),
    eventDelaySeconds: new Histogram({
      name: 'analytics_event_delay_seconds',
      help: 'From the event occurring (occurredAt, bank clock) to its row being inserted into ClickHouse',
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600],
      registers: [registry],
    }),
    historyCacheHits: new Counter({
      name: 'analytics_history_cache_hits_total',
      help: 'History pages served from the in-process page cache',
      registers: [registry],
    }),
    historyCacheMisses: new Counter({
      name: 'analytics_history_cache_misses_total',
      help: 'History pages read from the store (cache off, account on a partition this replica does not own, or not cached yet)',
      registers: [registry],
    }),
    historyReadsShared: new Counter({
      name: 'analytics_history_reads_shared_total',
      help: 'History reads that joined an identical store read already in flight',
      registers: [registry],
    }),
    // Issue #15: the history cross-check against the ledger (ADR 0021).
    crossCheckRuns: new Counter({
      name: 'analytics_ledger_cross_check_runs_total',
      help: 'History cross-check runs by outcome (ok, drift = a persisting difference, error = bank or store failed, skipped = store not ready)',
      labelNames: ['outcome'] as const,
      registers: [registry],
    }),
    crossCheckAccountsChecked: new Counter({
      name: 'analytics_ledger_cross_check_accounts_checked_total',
      help: 'Accounts whose history net was compared with the ledger',
      registers: [registry],
    }),
    ledgerDriftAccounts: new Gauge({
      name: 'analytics_ledger_drift_accounts',
      help: 'Accounts whose posted history differs from the ledger in two checks in a row (should be 0)',
      registers: [registry],
    }),
    ledgerDriftMinor: new Gauge({
      name: 'analytics_ledger_drift_minor',
      help: 'Sum of |history net - ledger net| over the drifting accounts, in minor units (should be 0)',
      registers: [registry],
    }),
    lastInsertTimestamp: new Gauge({
      name: 'analytics_last_insert_timestamp_seconds',
      help: 'Unix time of the last batch insert that stored at least one row (0 until the first since start)',
      registers: [registry],
    }),
  };
}

export type AnalyticsMetrics = ReturnType<typeof createAnalyticsMetrics>;

/**
 * The store engine's memory by kind and its active parts, read on each scrape
 * (embedded chDB lives in this process: these explain its resident memory).
 */
export function registerStoreMemoryGauges(registry: Registry, read: () => Promise<Record<string, number>>): void {
  new Gauge({
    name: 'analytics_store_memory_bytes',
    help: 'ClickHouse/chDB memory by kind (MemoryTracking = all the engine tracks, MergesMutationsMemoryTracking, PrimaryKeyBytesInMemory); ActiveParts is a count',
    labelNames: ['kind'] as const,
    registers: [registry],
    async collect() {
      try {
        for (const [kind, value] of Object.entries(await read())) this.set({ kind }, value);
      } catch {
        // The store being down shows in /readyz; a scrape must not fail for it.
      }
    },
  });
}

/** Size of the history page cache, read on each scrape (part of the service's memory bound). */
export function registerHistoryCacheGauges(registry: Registry, read: () => { entries: number; bytes: number }): void {
  new Gauge({
    name: 'analytics_history_cache_entries',
    help: 'Pages held in the history page cache',
    registers: [registry],
    collect() {
      this.set(read().entries);
    },
  });
  new Gauge({
    name: 'analytics_history_cache_bytes',
    help: 'Estimated bytes held by the history page cache (bounded by ANALYTICS_HISTORY_CACHE_MIB_MAX)',
    registers: [registry],
    collect() {
      this.set(read().bytes);
    },
  });
}
