// TransferMoney: validate (pure), then, through group commit by default, one
// transaction per batch that takes every key's idempotency lock with BEGIN,
// looks up stored outcomes and locks the accounts in one statement, decides
// each request in turn (pure) and writes everything in one statement. An
// executed request binds its key to its answer, success or business failure
// (ADR 0003).
import { randomUUID } from 'node:crypto';
import type { Logger } from '@wallet/platform';
import { context, currentTraceparent, getTracer, recordSpanError, SpanKind, trace, withSpan, type Context, type Link } from '@wallet/platform/tracing';
import { isConnectionError, isTimeoutError, withTransaction } from '@wallet/platform/db';
import type pg from 'pg';
import {
  BankError,
  CancelledError,
  DeadlineExceededError,
  IdempotencyKeyInFlightError,
  IdempotencyKeyReusedError,
  replayedFailure,
  StorageUnavailableError,
  type BankErrorReason,
} from '../domain/errors.js';
import { checkMayMoveMoney, checkMoveFrom, needsOwnerToMove, type Principal } from '../domain/access.js';
import { transferLockKey } from '../domain/hashing.js';
import { InvariantViolation, isSameRequest, type TransferRecord } from '../domain/ledger.js';
import { validateTransferRequest, type TransferMoneyInput, type TransferRequest } from '../domain/requests.js';
import { decideTransferBatch, idempotencyScope, type TransferBatchDecision, type TransferBatchItem } from '../domain/transfer-batch.js';
import { beginWithTryAdvisoryLocks, tryLockResults } from '../db/advisory-locks.js';
import { writeTransfers } from '../db/ledger-writes.js';
import { findTransferOutcome, lockTransferBatchContext, writeTransferFailures } from '../db/transfers.js';
import type { Attempts } from './attempts.js';
import type { MonotonicClock } from './clock.js';
import type { AccountOwners } from './owners.js';
import { GROUP_COMMIT_DEFAULTS, GroupCommitQueue, type GroupCommitSettings, type GroupCommitStats, type Settled, type SubmitOptions } from './group-commit.js';

export interface TransferResult {
  transfer: TransferRecord;
  replayed: boolean;
}

export interface TransferBatchReport {
  size: number;
  /**
   * single: a batch of one; committed: one transaction answered every request;
   * contended: a row lock timed out, and the batch ran again without waiting
   * for rows held elsewhere (their requests: STORAGE_UNAVAILABLE); split: the
   * batch failed and ran again as two halves (isolates a request the database
   * refuses in log2(size) steps); failed: the database was unreachable.
   */
  outcome: 'single' | 'committed' | 'contended' | 'split' | 'failed';
}

/**
 * A validated request with the trace context it was made in: the batch span
 * links to it, and its outbox rows store its traceparent (not the batch's).
 */
interface TracedTransfer {
  request: TransferRequest;
  /** The request's context (the `transfer.enqueue` span when queued). */
  traceContext: Context;
}

function traced(request: TransferRequest): TracedTransfer {
  return { request, traceContext: context.active() };
}

/** Reasons that are this service's fault (or its dependencies'), not a refusal the caller can act on. */
const FAULT_REASONS: ReadonlySet<BankErrorReason> = new Set(['STORAGE_UNAVAILABLE', 'IDENTITY_UNAVAILABLE', 'DEADLINE_EXCEEDED']);

/**
 * The time a request waits for (and in) its batch is its own span; the batch
 * links back to it. A business refusal (insufficient funds, a reused key) is
 * an outcome, recorded as error.type without marking the span failed, as the
 * gRPC server span does for the same status: error views show faults only.
 */
function enqueueTraced(queue: GroupCommitQueue<TracedTransfer, TransferResult>, request: TransferRequest, call: SubmitOptions): Promise<TransferResult> {
  // Inside a call that is not sampled (tracing off, or a trace not kept) the span would be
  // dropped anyway: skip its cost (a span object and a context switch per transfer).
  const parent = trace.getActiveSpan();
  if (parent !== undefined && !parent.isRecording()) return queue.submit(traced(request), call);
  return getTracer().startActiveSpan('transfer.enqueue', { kind: SpanKind.INTERNAL }, async (span) => {
    try {
      return await queue.submit(traced(request), call);
    } catch (error) {
      if (error instanceof BankError && !FAULT_REASONS.has(error.reason)) span.setAttribute('error.type', error.reason);
      else recordSpanError(span, error);
      throw error;
    } finally {
      span.end();
    }
  });
}

/**
 * Where a transfer's time goes (bank_transfer_phase_seconds): queue = waiting for a batch
 * (per transfer); per batch attempt: begin = a pooled connection, BEGIN and the key locks;
 * lock = stored outcomes and account row locks; decide = deciding and building the write;
 * write = the write statements; commit = COMMIT (the WAL flush).
 */
export type TransferPhase = 'queue' | 'begin' | 'lock' | 'decide' | 'write' | 'commit';

/** Reports the time since the previous mark (or the start) under each phase name; a no-op without a listener. */
function phaseClock(onPhase: TransferUseCaseOptions['onPhase']): (phase: TransferPhase) => void {
  if (!onPhase) return () => {};
  let markMs = performance.now();
  return (phase) => {
    const nowMs = performance.now();
    onPhase(phase, (nowMs - markMs) / 1000);
    markMs = nowMs;
  };
}

export interface TransferUseCaseOptions {
  pool: pg.Pool;
  logger: Logger;
  attempts: Attempts;
  clock: MonotonicClock;
  owners: AccountOwners;
  maxAmountMinor: bigint;
  newId?: () => string;
  onCommitted: () => void;
  groupCommit?: Partial<GroupCommitSettings>;
  onTransferBatch: (report: TransferBatchReport) => void;
  /** A queued transfer answered without being executed: its deadline passed, or its caller cancelled (metrics). */
  onDropped?: (reason: 'deadline' | 'cancelled') => void;
  /** Time spent in one phase (metrics; called per transfer for queue, per batch attempt for the rest). */
  onPhase?: (phase: TransferPhase, seconds: number) => void;
}

export class TransferUseCase {
  private readonly newId: () => string;
  private readonly queue: GroupCommitQueue<TracedTransfer, TransferResult> | undefined;

  constructor(private readonly options: TransferUseCaseOptions) {
    this.newId = options.newId ?? randomUUID;
    const groupCommit = { ...GROUP_COMMIT_DEFAULTS, ...options.groupCommit };
    this.queue = groupCommit.enabled
      ? new GroupCommitQueue<TracedTransfer, TransferResult>(groupCommit, {
          execute: (batch) => this.tracedBatch(batch),
          keyOf: (queued) => idempotencyScope(queued.request),
          // The rows the batch locks: one batch at a time per account in this process.
          conflictKeysOf: ({ request }) => [request.senderAccountId, request.recipientAccountId],
          onDuplicate: (queued) => this.answerDuplicate(queued.request),
          shed: () => new StorageUnavailableError('overloaded'),
          dropped: (reason) => {
            options.onDropped?.(reason);
            return reason === 'deadline' ? new DeadlineExceededError() : new CancelledError();
          },
          ...(options.onPhase ? { onTaken: (waitedMs: number) => options.onPhase!('queue', waitedMs / 1000) } : {}),
        })
      : undefined;
  }

  /**
   * `caller` is the verified principal. Its right to debit the sender is
   * settled before anything else looks at the key: a caller who may not move
   * this account's money never reaches the idempotency lookup, the key's lock
   * or the queue's duplicate detection, so it can neither replay nor probe
   * someone else's key.
   */
  async transferMoney(input: TransferMoneyInput, caller: Principal, call: SubmitOptions = {}): Promise<TransferResult> {
    checkMayMoveMoney(caller);
    // Cheap checks first, synchronously: a bad request never takes a queue slot or reaches a batch.
    const request = validateTransferRequest(input, { maxAmountMinor: this.options.maxAmountMinor }, caller.subject);
    if (needsOwnerToMove(caller)) {
      // Usually cached (owners never change), so usually no query and no await.
      const owner = this.options.owners.cached(request.senderAccountId) ?? (await this.options.owners.lookUp(request.senderAccountId));
      checkMoveFrom(caller, request.senderAccountId, owner);
    }
    const queue = this.queue;
    // The time a request waits for (and in) its batch is its own span; the batch links back to it.
    if (queue) return enqueueTraced(queue, request, call);
    const [result] = await this.executeBatch([traced(request)], false);
    if (!result!.ok) throw result!.error;
    return result!.value;
  }

  stats(): GroupCommitStats | undefined {
    return this.queue?.stats();
  }

  async close(): Promise<void> {
    await this.queue?.close();
  }

  /**
   * A request whose (sender, key) is already queued or executing here: a key
   * that completed earlier replays its answer (or is REUSED for another
   * request), one still executing is IN_FLIGHT (REST 409) at once. One
   * lock-free lookup: a stored outcome never changes.
   */
  private async answerDuplicate(request: TransferRequest): Promise<TransferResult> {
    let found: Awaited<ReturnType<typeof findTransferOutcome>>;
    try {
      found = await findTransferOutcome(this.options.pool, request.senderAccountId, request.idempotencyKey);
    } catch (error) {
      throw this.options.attempts.finalError('transfer', error);
    }
    const stored = found.existing ?? found.failure;
    if (!stored) throw new IdempotencyKeyInFlightError();
    if (!isSameRequest(stored, request)) throw new IdempotencyKeyReusedError('idempotency_key');
    if (found.failure) throw replayedFailure(found.failure.reason, found.failure.metadata);
    return { transfer: found.existing!, replayed: true };
  }

  /**
   * A queued batch in its own span: a child of the first request's span (so a
   * lone transfer is one trace), linked to every request it carries.
   */
  private tracedBatch(batch: TracedTransfer[]): Promise<Array<Settled<TransferResult>>> {
    const links: Link[] = batch.flatMap(({ traceContext }) => {
      const spanContext = trace.getSpanContext(traceContext);
      return spanContext && trace.isSpanContextValid(spanContext) ? [{ context: spanContext }] : [];
    });
    return withSpan(
      'transfer.batch',
      { kind: SpanKind.INTERNAL, parent: batch[0]!.traceContext, links, attributes: { 'transfer.batch.size': batch.length } },
      () => this.executeBatch(batch, true),
    );
  }

  /** One batch of distinct (sender, key) requests in one transaction; one result per request, never throws. */
  private async executeBatch(requests: TracedTransfer[], report: boolean, skipLocked = false): Promise<Array<Settled<TransferResult>>> {
    const reportAs = (outcome: TransferBatchReport['outcome']) => {
      // On the batch span too: a contended or split batch explains its own latency.
      trace.getActiveSpan()?.addEvent('transfer.batch.outcome', { 'transfer.batch.outcome': outcome, 'transfer.batch.size': requests.length });
      if (report) this.options.onTransferBatch({ size: requests.length, outcome });
    };
    let decision: TransferBatchDecision;
    try {
      decision = await this.options.attempts.retrying('transfer', (markWriteSent) => this.batchTransaction(requests, markWriteSent, skipLocked));
    } catch (error) {
      return this.afterFailedBatch(requests, error, reportAs, skipLocked);
    }
    if (!skipLocked) reportAs(requests.length === 1 ? 'single' : 'committed');
    // One relay wake per commit that wrote outbox rows.
    if (decision.plans.length > 0) this.options.onCommitted();
    return decision.outcomes.map((o) => (o.ok ? { ok: true, value: { transfer: o.transfer, replayed: o.replayed } } : o));
  }

  private async batchTransaction(batch: TracedTransfer[], markWriteSent: () => void, skipLocked: boolean): Promise<TransferBatchDecision> {
    const requests = batch.map((queued) => queued.request);
    const lockKeys = requests.map((r) => transferLockKey(r.senderAccountId, r.idempotencyKey));
    const phase = phaseClock(this.options.onPhase);
    const decision = await withTransaction(this.options.pool, beginWithTryAdvisoryLocks(lockKeys), async (client, begin) => {
      phase('begin');
      const keyLocked = tryLockResults(begin);
      if (keyLocked.length !== requests.length) throw new InvariantViolation(`${keyLocked.length} advisory lock results for ${requests.length} requests`);
      const candidates = requests.filter((_, i) => keyLocked[i]);
      const context =
        candidates.length > 0
          ? await lockTransferBatchContext(client, candidates, { skipLocked })
          : { existing: [], failures: [], accounts: [], busyAccountIds: new Set<string>() };
      phase('lock');
      const existing = new Map(context.existing.map((t) => [idempotencyScope(t), t]));
      const failures = new Map(context.failures.map((f) => [idempotencyScope(f), f]));
      const items: TransferBatchItem[] = requests.map((request, i) => ({
        request,
        keyLocked: keyLocked[i]!,
        existing: keyLocked[i] ? existing.get(idempotencyScope(request)) : undefined,
        storedFailure: keyLocked[i] ? failures.get(idempotencyScope(request)) : undefined,
        accountsBusy: context.busyAccountIds.has(request.senderAccountId) || context.busyAccountIds.has(request.recipientAccountId),
      }));
      // Times are taken now, under the locks, in decision order: distinct and increasing.
      const decision = decideTransferBatch(items, new Map(context.accounts.map((a) => [a.id, a])), () => ({
        transferId: this.newId(),
        createdAt: this.options.clock.next(),
        eventIds: [this.newId(), this.newId()],
      }));
      if (decision.plans.length > 0 || decision.failures.length > 0) markWriteSent();
      phase('decide');
      if (decision.plans.length > 0) {
        // Each plan's outbox rows carry its own request's traceparent.
        const traceparents = new Map(batch.map((queued) => [idempotencyScope(queued.request), currentTraceparent(queued.traceContext)]));
        const traceContexts = decision.plans.map((plan) => traceparents.get(idempotencyScope(plan.transfer)) ?? null);
        await writeTransfers(client, decision.plans, decision.updates, decision.plans.at(-1)!.transfer.createdAt, traceContexts);
      }
      await writeTransferFailures(client, decision.failures, this.options.clock.next());
      phase('write');
      return decision;
    });
    phase('commit');
    return decision;
  }

  /**
   * The batch did not commit (or, for a connection lost at COMMIT, maybe did:
   * then a retry with the same key replays). Never hand one request's error
   * to another, and never fall back to one transaction per request:
   * - database unreachable: everyone's STORAGE_UNAVAILABLE (safe to retry);
   * - a lock or statement timeout: once more at once, skipping rows held
   *   elsewhere (at most one lock wait per batch); a timeout again (a slow
   *   database, not a lock): everyone's STORAGE_UNAVAILABLE;
   * - anything else (data the database refused, a bug): two halves, each its
   *   own batch, so a bad request is isolated in log2(size) transactions.
   */
  private async afterFailedBatch(
    requests: TracedTransfer[],
    error: unknown,
    reportAs: (outcome: TransferBatchReport['outcome']) => void,
    skipLocked: boolean,
  ): Promise<Array<Settled<TransferResult>>> {
    const everyone = (failure: unknown) => requests.map((): Settled<TransferResult> => ({ ok: false, error: failure }));
    if (isConnectionError(error)) {
      reportAs('failed');
      return everyone(this.options.attempts.finalError('transfer', error));
    }
    // A lock wait ends in lock_timeout or, when both bounds are equal, statement_timeout.
    if (isTimeoutError(error) && !skipLocked) {
      reportAs('contended');
      return this.executeBatch(requests, false, true);
    }
    if (isTimeoutError(error) || requests.length === 1) {
      if (!skipLocked) reportAs(requests.length === 1 ? 'single' : 'failed');
      return everyone(this.options.attempts.finalError('transfer', error));
    }
    reportAs('split');
    this.options.logger.warn({ err: error, size: requests.length }, 'transfer batch failed; running it again as two halves');
    const middle = Math.ceil(requests.length / 2);
    const first = await this.executeBatch(requests.slice(0, middle), false, skipLocked);
    const second = await this.executeBatch(requests.slice(middle), false, skipLocked);
    return [...first, ...second];
  }
}
