import type pg from 'pg';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { OUTBOX_PENDING_COUNT_MAX, type OutboxRelayMetrics } from './outbox/relay.js';
import type { GroupCommitStats } from './app/group-commit.js';
import type { TransferBatchReport, TransferPhase } from './app/transfers.js';

/** Phases of bank_transfer_phase_seconds: the use case's, and auth (verifying the caller's token, in the servicer). */
export type TransferPhaseLabel = TransferPhase | 'auth';
export const TRANSFER_PHASES: readonly TransferPhaseLabel[] = ['auth', 'queue', 'begin', 'lock', 'decide', 'write', 'commit'];

/** bank_holds_total's action per hold RPC. */
const HOLD_ACTIONS: Readonly<Record<string, string>> = { CreateHold: 'create', CaptureHold: 'capture', VoidHold: 'void' };

/** Prometheus metrics of bank-service; names carry units, labels stay low-cardinality. */
export class BankMetrics {
  private readonly transfers: Counter<'outcome'>;
  private readonly deposits: Counter<'outcome'>;
  private readonly transferVolume: Counter<'currency'>;
  private readonly depositVolume: Counter<'currency'>;
  private readonly retries: Counter<'operation' | 'cause'>;
  private readonly batchSize: Histogram<'outcome'>;
  private readonly callersDenied: Counter<'rpc' | 'caller'>;
  private readonly expiredDropped: Counter;
  private readonly holds: Counter<'action' | 'outcome'>;
  private readonly reversals: Counter<'outcome'>;
  private readonly reversalsForced: Counter;
  /** One bound child per phase, looked up once: an observation costs no label lookup. */
  private readonly phaseSeconds: Record<TransferPhaseLabel, { observe(seconds: number): void }>;
  private transferQueueStats: () => GroupCommitStats | undefined = () => undefined;
  private ownerCacheSize: () => number = () => 0;
  readonly outbox: OutboxRelayMetrics;

  constructor(registry: Registry, pool?: pg.Pool) {
    const published = new Counter({
      name: 'bank_outbox_events_published_total',
      help: 'Outbox events acknowledged by Kafka.',
      registers: [registry],
    });
    const failures = new Counter({
      name: 'bank_outbox_relay_failures_total',
      help: 'Relay cycles that failed (Kafka or the database unreachable); the relay backs off and retries.',
      registers: [registry],
    });
    const oldest = new Gauge({
      name: 'bank_outbox_oldest_event_age_seconds',
      help: 'Age of the oldest unpublished outbox event at the last relay cycle (0 when empty).',
      registers: [registry],
    });
    const quarantined = new Counter({
      name: 'bank_outbox_events_quarantined_total',
      help: 'Outbox events Kafka rejected for good, moved to bank.outbox_quarantine (alert on any increase).',
      registers: [registry],
    });
    const pending = new Gauge({
      name: 'bank_outbox_pending_events',
      help: `Unpublished outbox events at the last relay cycle (counted up to ${OUTBOX_PENDING_COUNT_MAX}; 0 when empty).`,
      registers: [registry],
    });
    const leader = new Gauge({
      name: 'bank_outbox_relay_leader',
      help: 'Whether this replica holds the outbox relay lock (1) or follows (0); exactly one replica per database should be 1.',
      registers: [registry],
    });
    this.outbox = {
      leader: (isLeader) => leader.set(isLeader ? 1 : 0),
      published: (count) => published.inc(count),
      quarantined: (count) => quarantined.inc(count),
      failed: () => failures.inc(),
      oldestAgeMs: (ms) => oldest.set(ms / 1000),
      pending: (count) => pending.set(count),
    };
    this.transfers = new Counter({
      name: 'bank_transfers_total',
      help: 'TransferMoney calls by outcome (completed, replayed, or the error reason in lower case).',
      labelNames: ['outcome'],
      registers: [registry],
    });
    this.deposits = new Counter({
      name: 'bank_deposits_total',
      help: 'DepositMoney calls by outcome.',
      labelNames: ['outcome'],
      registers: [registry],
    });
    this.transferVolume = new Counter({
      name: 'bank_transfer_volume_minor_total',
      help: 'Amount moved by committed transfers (replays not counted), in minor units of the currency. A metric, not a money path: float, approximate beyond 2^53.',
      labelNames: ['currency'],
      registers: [registry],
    });
    this.depositVolume = new Counter({
      name: 'bank_deposit_volume_minor_total',
      help: 'Amount credited by committed deposits (replays not counted), in minor units of the currency. A metric, not a money path.',
      labelNames: ['currency'],
      registers: [registry],
    });
    this.retries = new Counter({
      name: 'bank_db_retries_total',
      help: 'Transactions retried after a transient database error, by operation and cause.',
      labelNames: ['operation', 'cause'],
      registers: [registry],
    });
    this.batchSize = new Histogram({
      name: 'bank_transfer_batch_size',
      help: 'Transfers per group-commit batch, by outcome (single = batch of one, committed, contended = a lock timeout, then the batch again without waiting on rows held elsewhere; split = a failed batch run again as two halves; failed = database unreachable).',
      labelNames: ['outcome'],
      buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1000],
      registers: [registry],
    });
    this.callersDenied = new Counter({
      name: 'bank_grpc_callers_denied_total',
      help: 'gRPC calls refused by the caller table (ADR 0009), by RPC and calling service (from its certificate; "unauthenticated" without one). Any increase is a misconfiguration or an intrusion.',
      labelNames: ['rpc', 'caller'],
      registers: [registry],
    });
    this.expiredDropped = new Counter({
      name: 'bank_expired_requests_dropped_total',
      help: 'Queued transfers dropped without being executed because the caller\'s gRPC deadline passed while they waited (answered DEADLINE_EXCEEDED; a retry with the same key executes them). A rise means the queue is longer than callers wait.',
      registers: [registry],
    });
    this.holds = new Counter({
      name: 'bank_holds_total',
      help: 'Hold operations (issue #15) by action (create, capture, void, expire: the sweep) and outcome (completed, replayed, expired, or the rejection reason in lower case).',
      labelNames: ['action', 'outcome'],
      registers: [registry],
    });
    this.reversals = new Counter({
      name: 'bank_reversals_total',
      help: 'ReverseTransfer calls (issue #15) by outcome (completed, replayed, or the rejection reason in lower case).',
      labelNames: ['outcome'],
      registers: [registry],
    });
    this.reversalsForced = new Counter({
      name: 'bank_reversals_forced_total',
      help: 'Reversals an admin forced past the original recipient\'s available balance + overdraft (audited: bank.reversals.forced, a warn log line "reversal forced").',
      registers: [registry],
    });
    const phases = new Histogram({
      name: 'bank_transfer_phase_seconds',
      help: 'Where transfer time goes. Per transfer: auth (verifying the caller\'s token), queue (waiting for a group-commit batch). Per batch attempt (count = batches): begin (a pooled connection, BEGIN and the idempotency key locks), lock (stored outcomes and account row locks), decide (deciding and building the write), write (the write statements), commit (COMMIT: the WAL flush).',
      labelNames: ['phase'],
      buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    });
    this.phaseSeconds = Object.fromEntries(TRANSFER_PHASES.map((phase) => [phase, phases.labels(phase)])) as unknown as BankMetrics['phaseSeconds'];
    const stats = () => this.transferQueueStats();
    new Gauge({
      name: 'bank_transfer_queue_depth',
      help: 'Transfers waiting for a group-commit batch (queued, or duplicates of a queued key being answered; both count toward the queue limit).',
      registers: [registry],
      collect() {
        const current = stats();
        this.set(current ? current.queued + current.duplicatesAnswering : 0);
      },
    });
    const ownerCacheSize = () => this.ownerCacheSize();
    new Gauge({
      name: 'bank_owner_cache_entries',
      help: 'Account owners held in memory (bounded by BANK_OWNER_CACHE_SIZE_MAX); transfers check the sender owner from here.',
      registers: [registry],
      collect() {
        this.set(ownerCacheSize());
      },
    });
    if (pool) {
      new Gauge({
        name: 'bank_db_pool_connections',
        help: 'Database pool connections by state (total, idle, waiting requests).',
        labelNames: ['state'],
        registers: [registry],
        collect() {
          this.set({ state: 'total' }, pool.totalCount);
          this.set({ state: 'idle' }, pool.idleCount);
          this.set({ state: 'waiting' }, pool.waitingCount);
        },
      });
    }
  }

  /**
   * The outcome of a call: transfers and deposits by outcome (completed, replayed, or the rejection
   * reason in lower case). Latency per RPC is the platform's grpc_server_handling_seconds.
   */
  outcome(method: string, outcome: string): void {
    if (method === 'TransferMoney') this.transfers.inc({ outcome });
    if (method === 'DepositMoney') this.deposits.inc({ outcome });
    if (method === 'ReverseTransfer') this.reversals.inc({ outcome });
    const holdAction = HOLD_ACTIONS[method];
    if (holdAction) this.holds.inc({ action: holdAction, outcome });
  }

  /** A reversal an admin forced past the recipient's funds. */
  reversalForced(): void {
    this.reversalsForced.inc();
  }

  /** Holds the expiry sweep released. */
  holdsExpired(count: number): void {
    this.holds.inc({ action: 'expire', outcome: 'expired' }, count);
  }

  /** A transfer this call committed (not a replay). Currencies are ISO 4217 codes the ledger accepted: bounded. */
  transferCommitted(currency: string, amountMinor: bigint): void {
    this.transferVolume.inc({ currency }, Number(amountMinor));
  }

  /** A deposit this call committed (not a replay). */
  depositCommitted(currency: string, amountMinor: bigint): void {
    this.depositVolume.inc({ currency }, Number(amountMinor));
  }

  transferBatch(report: TransferBatchReport): void {
    this.batchSize.observe({ outcome: report.outcome }, report.size);
  }

  /** Time one transfer (auth, queue) or one batch attempt (the other phases) spent in a phase. */
  transferPhase(phase: TransferPhaseLabel, seconds: number): void {
    this.phaseSeconds[phase].observe(seconds);
  }

  /** A queued transfer answered unexecuted; only expiries are counted (a cancel is the caller's choice, not load). */
  transferDropped(reason: 'deadline' | 'cancelled'): void {
    if (reason === 'deadline') this.expiredDropped.inc();
  }

  /** Where the queue-depth gauge reads from (the operations are built after the metrics). */
  trackTransferQueue(stats: () => GroupCommitStats | undefined): void {
    this.transferQueueStats = stats;
  }

  /** Where the owner-cache gauge reads from. */
  trackOwnerCache(size: () => number): void {
    this.ownerCacheSize = size;
  }

  /** A call refused by the caller table; caller names come from certificates our CA signed, so the label stays bounded. */
  callerDenied(rpc: string, caller: string | null): void {
    this.callersDenied.inc({ rpc, caller: caller ?? 'unauthenticated' });
  }

  retried(operation: string, cause: string): void {
    this.retries.inc({ operation, cause });
  }
}
