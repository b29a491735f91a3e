// The top-up saga's executor: charge -> deposit -> done, or compensate.
// Decisions come from the pure domain (domain/saga.ts); this file performs
// them, persisting each transition before the side effect it guards.

import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { backoffDelayMs, type Logger } from '@wallet/platform';
import { BankCallError, toBankCallError, type Bank } from '../clients/bank.js';
import { asGatewayError, type ChargeResult, type PaymentGateway } from '../clients/payment-gateway/types.js';
import { TopUpFailure } from '../domain/failures.js';
import { topUpRequestHash } from '../domain/fingerprint.js';
import { decideOnExistingTopUp } from '../domain/idempotency.js';
import {
  classifyDepositError,
  decideAfterChargeFailure,
  decideAfterDepositFailure,
  decideAfterRefundFailure,
  isAmbiguous,
  leaseMs,
  resolveUnknownCharge,
  type ChargeLookup,
} from '../domain/saga.js';
import {
  chargeIdempotencyKey,
  declineReason,
  depositReference,
  isTerminal,
  mayBeCharged,
  outcomeOf,
  refundIdempotencyKey,
  type TopUpRecord,
} from '../domain/top-up.js';
import { validateTopUp, type TopUpInput, type TopUpLimits, type ValidCard } from '../domain/validation.js';
import type { CRASH_POINTS } from '../config.js';
import { LeaseLostError, type TopUpRepository } from '../db/top-ups.js';
import type { AdapterMetrics } from '../metrics.js';

export interface SagaSettings {
  limits: TopUpLimits;
  fingerprintSecret: string;
  gatewayTimeoutMs: number;
  bankTimeoutMs: number;
  chargeAttempts: number;
  chargeResolutionGraceMs: number;
  depositAttempts: number;
  depositRetryBudgetMs: number;
  refundAttempts: number;
  retryBaseDelayMs: number;
  retryMaxDelayMs: number;
  leaseMarginMs: number;
}

/** Points where the crash tests make the process die (TEST_CRASH_POINT). */
export type CrashPoint = (typeof CRASH_POINTS)[number];

export interface ProcessorDeps {
  repository: TopUpRepository;
  gateway: PaymentGateway;
  bank: Bank;
  settings: SagaSettings;
  logger: Logger;
  metrics: AdapterMetrics;
  /** The clock for card expiry and charge resolution; injected so tests can move it. */
  now?: () => Date;
  crashHook?: (point: CrashPoint) => void;
}

export interface TopUpSuccess {
  record: TopUpRecord;
  replayed: boolean;
}

interface RequestContext {
  requestId?: string;
}

/** One worker's hold on one top-up while it drives the saga. */
interface Run {
  record: TopUpRecord;
  token: string;
  /** Present only when a client request carries the card; the recovery loop never has it. */
  card: ValidCard | undefined;
  log: Logger;
  headers: Record<string, string | undefined>;
}

/** Ends the current phase without a final state: the recovery loop will continue. */
class Pending {
  constructor(readonly record: TopUpRecord) {}
}

export class TopUpProcessor {
  private readonly now: () => Date;

  constructor(private readonly deps: ProcessorDeps) {
    this.now = deps.now ?? (() => new Date());
  }

  private get s(): SagaSettings {
    return this.deps.settings;
  }

  // ------------------------------------------------------------ request path

  /** Handles ProcessCardTopUp: resolves with the completed top-up or throws a TopUpFailure. */
  async processRequest(input: TopUpInput, context: RequestContext = {}): Promise<TopUpSuccess> {
    const valid = validateTopUp(input, this.now(), this.s.limits);
    const requestHash = topUpRequestHash(this.s.fingerprintSecret, valid);
    const headers = { 'x-request-id': context.requestId };
    const log = this.deps.logger.child({
      requestId: context.requestId,
      accountId: valid.accountId,
      cardLast4: valid.card.last4,
      cardBrand: valid.card.brand,
    });

    const existing = await this.deps.repository.findByKey(valid.accountId, valid.idempotencyKey);
    if (existing) return this.onExisting(existing.record, existing.leaseHeld, requestHash, valid.card, log, headers);

    await this.checkAccount(valid.accountId, valid.currency, log, headers);

    const token = randomUUID();
    const inserted = await this.deps.repository.insertReceived(
      {
        id: randomUUID(),
        accountId: valid.accountId,
        idempotencyKey: valid.idempotencyKey,
        requestHash,
        amountMinor: valid.amountMinor,
        currency: valid.currency,
        cardLast4: valid.card.last4,
        cardBrand: valid.card.brand,
      },
      token,
      leaseMs(this.s.gatewayTimeoutMs, this.s.leaseMarginMs),
    );
    if (!inserted) {
      // A concurrent request with the same key journaled first.
      const winner = await this.deps.repository.findByKey(valid.accountId, valid.idempotencyKey);
      if (!winner) throw new Error('top-up vanished after an idempotency conflict');
      return this.onExisting(winner.record, winner.leaseHeld, requestHash, valid.card, log, headers);
    }
    log.info({ topUpId: inserted.id, amountMinor: inserted.amountMinor.toString() }, 'top-up received');
    const final = await this.driveSafely({ record: inserted, token, card: valid.card, log: log.child({ topUpId: inserted.id }), headers });
    return this.answer(final, false);
  }

  private async onExisting(
    record: TopUpRecord,
    leaseHeld: boolean,
    requestHash: string,
    card: ValidCard,
    log: Logger,
    headers: Record<string, string | undefined>,
  ): Promise<TopUpSuccess> {
    const decision = decideOnExistingTopUp({ storedRequestHash: record.requestHash, requestHash, state: record.state, leaseHeld });
    switch (decision.action) {
      case 'reject_reused':
        throw new TopUpFailure({
          reason: 'IDEMPOTENCY_KEY_REUSED',
          message: 'this idempotency key was already used for a different top-up',
          charged: false,
          metadata: { top_up_id: record.id },
        });
      case 'replay':
        return this.answer(record, true);
      case 'in_flight':
        throw new TopUpFailure({
          reason: 'IDEMPOTENCY_KEY_IN_FLIGHT',
          message: 'a top-up with this idempotency key is still being processed; retry later with the same key',
          charged: mayBeCharged(record.state),
          metadata: { top_up_id: record.id, state: record.state.toLowerCase() },
        });
      case 'resume': {
        // An unfinished top-up nobody is working on: this retry carries the card, so it can finish the job.
        const token = randomUUID();
        const claimed = await this.deps.repository.claim(record.id, token, leaseMs(this.s.gatewayTimeoutMs, this.s.leaseMarginMs));
        if (!claimed) {
          const latest = (await this.deps.repository.findById(record.id)) ?? record;
          if (isTerminal(latest.state)) return this.answer(latest, true);
          throw new TopUpFailure({
            reason: 'IDEMPOTENCY_KEY_IN_FLIGHT',
            message: 'a top-up with this idempotency key is still being processed; retry later with the same key',
            charged: mayBeCharged(latest.state),
            metadata: { top_up_id: latest.id, state: latest.state.toLowerCase() },
          });
        }
        log.info({ topUpId: claimed.id, state: claimed.state }, 'client retry resumes an unfinished top-up');
        const final = await this.driveSafely({ record: claimed, token, card, log: log.child({ topUpId: claimed.id }), headers });
        return this.answer(final, true);
      }
    }
  }

  /** The account must exist before any charge; if the bank cannot say, the saga's compensation covers it. */
  private async checkAccount(accountId: string, currency: string, log: Logger, headers: Record<string, string | undefined>): Promise<void> {
    try {
      const account = await this.deps.bank.checkAccount(accountId, headers);
      if (!account.exists) {
        throw new TopUpFailure({ reason: 'ACCOUNT_NOT_FOUND', message: `account ${accountId} does not exist; nothing was charged`, charged: false });
      }
      if (account.currency && account.currency !== currency) {
        throw new TopUpFailure({
          reason: 'CURRENCY_MISMATCH',
          message: `the account holds ${account.currency}, the top-up is in ${currency}; nothing was charged`,
          charged: false,
        });
      }
    } catch (error) {
      if (error instanceof TopUpFailure) throw error;
      const failure = error instanceof BankCallError ? error : toBankCallError(error);
      log.warn({ code: failure.code, reason: failure.reason }, 'account check failed; continuing (a failed deposit is refunded)');
    }
  }

  private answer(record: TopUpRecord, replayed: boolean): TopUpSuccess {
    const outcome = outcomeOf(record, { replayed });
    if (outcome.kind === 'failed') throw outcome.failure;
    return { record, replayed };
  }

  // ------------------------------------------------------------ recovery path

  /**
   * Claims the oldest unfinished top-up nobody holds and drives it as far as
   * it can go without the card. Returns null when there is none to claim.
   */
  async recoverNext(excludeIds: readonly string[]): Promise<TopUpRecord | null> {
    const token = randomUUID();
    const claimed = await this.deps.repository.claimNextUnfinished(token, leaseMs(this.s.gatewayTimeoutMs, this.s.leaseMarginMs), excludeIds);
    if (!claimed) return null;
    const log = this.deps.logger.child({ topUpId: claimed.id, recovery: true });
    log.info({ state: claimed.state }, 'recovering unfinished top-up');
    const final = await this.driveSafely({ record: claimed, token, card: undefined, log, headers: {} });
    const action = isTerminal(final.state) ? final.state.toLowerCase() : 'still_pending';
    this.deps.metrics.recoveryActions.inc({ action });
    log.info({ from: claimed.state, to: final.state }, 'recovery step done');
    return final;
  }

  // ------------------------------------------------------------ the saga

  /**
   * Drives the saga; never throws for infrastructure failures. If the worker
   * loses its lease or the database fails mid-way, answers with the last known
   * state (pending), which the recovery loop will finish.
   */
  private async driveSafely(run: Run): Promise<TopUpRecord> {
    try {
      return await this.drive(run);
    } catch (error) {
      if (error instanceof LeaseLostError) {
        run.log.warn('lease lost; another worker continues this top-up');
        return (await this.deps.repository.findById(run.record.id).catch(() => null)) ?? run.record;
      }
      run.log.error({ err: error, state: run.record.state }, 'top-up step failed; left for recovery');
      return run.record;
    }
  }

  private async drive(run: Run): Promise<TopUpRecord> {
    // Each phase either moves to a later state or stops; the bound is the longest path.
    for (let step = 0; step < 8 && !isTerminal(run.record.state); step += 1) {
      const before = run.record.state;
      let result: TopUpRecord | Pending;
      switch (run.record.state) {
        case 'RECEIVED':
        case 'CHARGING':
          result = run.card ? await this.charge(run, run.card) : await this.resolveCharge(run);
          break;
        case 'CHARGED':
          result = await this.deposit(run);
          break;
        case 'REFUNDING':
          result = await this.refund(run);
          break;
        default:
          return run.record;
      }
      if (result instanceof Pending) {
        await this.deps.repository.release(result.record, run.token).catch(() => undefined);
        return result.record;
      }
      run.record = result;
      if (run.record.state === before) break;
    }
    return run.record;
  }

  private async charge(run: Run, card: ValidCard): Promise<TopUpRecord | Pending> {
    const repo = this.deps.repository;
    let everAmbiguous = run.record.chargeOutcomeUnknown;
    for (let attempt = 1; attempt <= this.s.chargeAttempts; attempt += 1) {
      const bookkeeping = { chargeAttempts: run.record.chargeAttempts + 1, lastChargeAttemptAt: this.now() };
      const lease = leaseMs(this.s.gatewayTimeoutMs, this.s.leaseMarginMs);
      // Persisted before the call: from here on a crash leaves CHARGING, "maybe charged".
      run.record =
        run.record.state === 'RECEIVED'
          ? await repo.transition(run.record, run.token, 'CHARGING', bookkeeping, lease)
          : await repo.update(run.record, run.token, bookkeeping, lease);
      try {
        const result = await this.deps.gateway.charge({
          idempotencyKey: chargeIdempotencyKey(run.record.id),
          amountMinor: run.record.amountMinor,
          currency: run.record.currency,
          card: { number: card.digits, expiryMonth: card.expiryMonth, expiryYear: card.expiryYear, cvc: card.cvc, holderName: card.holderName },
        });
        this.deps.metrics.gatewayCalls.inc({ operation: 'charge', result: result.status });
        this.deps.crashHook?.('before_charge_recorded');
        return await this.recordCharge(run, result);
      } catch (error) {
        if (error instanceof LeaseLostError) throw error;
        const failure = asGatewayError(error);
        this.deps.metrics.gatewayCalls.inc({ operation: 'charge', result: failure.kind });
        everAmbiguous ||= isAmbiguous(failure.kind);
        run.log.warn({ attempt, kind: failure.kind, code: failure.code }, 'charge attempt failed');
        run.record = await repo.update(
          run.record,
          run.token,
          { lastChargeError: failure.kind, chargeOutcomeUnknown: everAmbiguous },
          this.s.leaseMarginMs,
        );
        const decision = decideAfterChargeFailure({ kind: failure.kind, attemptsDone: attempt, maxAttempts: this.s.chargeAttempts, everAmbiguous });
        if (decision.action === 'fail') {
          return repo.transition(
            run.record,
            run.token,
            'FAILED',
            { failureReason: decision.reason, failureMessage: decision.message },
            0,
            { gatewayError: failure.code },
          );
        }
        if (decision.action === 'resolve_unknown') return this.resolveCharge(run);
        await this.backoff(run, attempt);
      }
    }
    return this.resolveCharge(run);
  }

  private async recordCharge(run: Run, result: ChargeResult): Promise<TopUpRecord> {
    const repo = this.deps.repository;
    if (result.status === 'declined') {
      const declineCode = result.declineCode ?? 'generic_decline';
      run.log.info({ declineCode }, 'charge declined');
      return repo.transition(
        run.record,
        run.token,
        'DECLINED',
        { chargeId: result.chargeId, declineCode, failureReason: declineReason(declineCode) },
        0,
        { chargeId: result.chargeId, declineCode },
      );
    }
    const charged = await repo.transition(
      run.record,
      run.token,
      'CHARGED',
      { chargeId: result.chargeId },
      leaseMs(this.s.bankTimeoutMs, this.s.leaseMarginMs),
      { chargeId: result.chargeId },
    );
    run.log.info({ chargeId: result.chargeId }, 'card charged');
    this.deps.crashHook?.('after_charge_recorded');
    return charged;
  }

  /** Settles a charge whose outcome is unknown by asking the gateway about its idempotency key. */
  private async resolveCharge(run: Run): Promise<TopUpRecord | Pending> {
    const repo = this.deps.repository;
    if (run.record.state === 'RECEIVED') {
      // Journaled, but the charge was never sent, and without the card it never can be.
      return repo.transition(
        run.record,
        run.token,
        'FAILED',
        { failureReason: 'PAYMENT_GATEWAY_ERROR', failureMessage: 'the top-up was interrupted before the card was charged; nothing was charged' },
        0,
        { cause: 'interrupted_before_charge' },
      );
    }
    run.record = await repo.update(run.record, run.token, {}, leaseMs(this.s.gatewayTimeoutMs, this.s.leaseMarginMs));
    let lookup: ChargeLookup;
    try {
      const found = await this.deps.gateway.findCharge(chargeIdempotencyKey(run.record.id));
      this.deps.metrics.gatewayCalls.inc({ operation: 'find_charge', result: found ? 'found' : 'not_found' });
      lookup = found ? { found: true, ...found } : { found: false };
    } catch (error) {
      const failure = asGatewayError(error);
      this.deps.metrics.gatewayCalls.inc({ operation: 'find_charge', result: failure.kind });
      run.log.warn({ kind: failure.kind, code: failure.code }, 'charge lookup failed; charge outcome still unknown');
      return new Pending(run.record);
    }
    const resolution = resolveUnknownCharge({
      lookup,
      lastAttemptAt: run.record.lastChargeAttemptAt,
      lastChargeError: run.record.lastChargeError,
      now: this.now(),
      gatewayTimeoutMs: this.s.gatewayTimeoutMs,
      graceMs: this.s.chargeResolutionGraceMs,
    });
    switch (resolution.action) {
      case 'charged':
        return this.recordCharge(run, { chargeId: resolution.chargeId, status: 'succeeded' });
      case 'declined':
        return this.recordCharge(run, { chargeId: resolution.chargeId, status: 'declined', declineCode: resolution.declineCode });
      case 'fail':
        run.log.info({ reason: resolution.reason }, 'the gateway has no charge for this top-up; nothing was charged');
        return repo.transition(
          run.record,
          run.token,
          'FAILED',
          { failureReason: resolution.reason, failureMessage: resolution.message },
          0,
          { cause: 'no_charge_at_gateway' },
        );
      case 'wait':
        return new Pending(run.record);
    }
  }

  private async deposit(run: Run): Promise<TopUpRecord | Pending> {
    const repo = this.deps.repository;
    const startedAt = Date.now();
    let everAmbiguous = run.record.depositOutcomeUnknown;
    for (let attempt = 1; attempt <= this.s.depositAttempts; attempt += 1) {
      run.record = await repo.update(
        run.record,
        run.token,
        { depositAttempts: run.record.depositAttempts + 1 },
        leaseMs(this.s.bankTimeoutMs, this.s.leaseMarginMs),
      );
      try {
        const deposit = await this.deps.bank.deposit(
          {
            accountId: run.record.accountId,
            amountMinor: run.record.amountMinor,
            currency: run.record.currency,
            depositReference: depositReference(run.record.id),
            topUpId: run.record.id,
            cardLast4: run.record.cardLast4,
            cardBrand: run.record.cardBrand,
          },
          run.headers,
        );
        this.deps.metrics.depositAttempts.inc({ result: deposit.replayed ? 'replayed' : 'ok' });
        run.log.info({ depositId: deposit.depositId, replayed: deposit.replayed }, 'deposit applied; top-up completed');
        return await repo.transition(run.record, run.token, 'COMPLETED', { depositId: deposit.depositId, depositError: null }, 0, {
          depositId: deposit.depositId,
        });
      } catch (error) {
        if (error instanceof LeaseLostError) throw error;
        const failure = error instanceof BankCallError ? error : toBankCallError(error);
        const failureClass = classifyDepositError(failure);
        this.deps.metrics.depositAttempts.inc({ result: failureClass });
        everAmbiguous ||= failureClass === 'transient_ambiguous';
        const nextDelayMs = backoffDelayMs(attempt - 1, this.s.retryBaseDelayMs, this.s.retryMaxDelayMs);
        const decision = decideAfterDepositFailure({
          failure: failureClass,
          attemptsDone: attempt,
          maxAttempts: this.s.depositAttempts,
          elapsedMs: Date.now() - startedAt,
          nextDelayMs,
          budgetMs: this.s.depositRetryBudgetMs,
          everAmbiguous,
        });
        const depositError = failure.reason ?? failure.code;
        run.log.warn({ attempt, code: failure.code, reason: failure.reason, failureClass, decision: decision.action }, 'deposit attempt failed');
        run.record = await repo.update(run.record, run.token, { depositOutcomeUnknown: everAmbiguous, depositError }, leaseMs(nextDelayMs, this.s.leaseMarginMs));
        if (decision.action === 'refund') {
          // Compensation: from here on only a refund may happen, never a deposit.
          const refunding = await repo.transition(run.record, run.token, 'REFUNDING', {}, leaseMs(this.s.gatewayTimeoutMs, this.s.leaseMarginMs), {
            depositError,
          });
          run.log.warn({ depositError }, 'deposit failed for good; refunding the charge');
          this.deps.crashHook?.('after_refund_decided');
          return refunding;
        }
        if (decision.action === 'leave_pending') {
          run.log.error({ depositError }, 'deposit outcome unknown; the recovery loop will retry it');
          return new Pending(run.record);
        }
        await sleep(nextDelayMs);
      }
    }
    return new Pending(run.record);
  }

  private async refund(run: Run): Promise<TopUpRecord | Pending> {
    const repo = this.deps.repository;
    for (let attempt = 1; attempt <= this.s.refundAttempts; attempt += 1) {
      run.record = await repo.update(
        run.record,
        run.token,
        { refundAttempts: run.record.refundAttempts + 1 },
        leaseMs(this.s.gatewayTimeoutMs, this.s.leaseMarginMs),
      );
      try {
        const refund = await this.deps.gateway.refund({ chargeId: run.record.chargeId as string, idempotencyKey: refundIdempotencyKey(run.record.id) });
        this.deps.metrics.gatewayCalls.inc({ operation: 'refund', result: 'succeeded' });
        run.log.info({ refundId: refund.refundId }, 'charge refunded');
        return await repo.transition(run.record, run.token, 'REFUNDED', { refundId: refund.refundId }, 0, { refundId: refund.refundId });
      } catch (error) {
        if (error instanceof LeaseLostError) throw error;
        const failure = asGatewayError(error);
        this.deps.metrics.gatewayCalls.inc({ operation: 'refund', result: failure.kind });
        const decision = decideAfterRefundFailure({ kind: failure.kind, attemptsDone: attempt, maxAttempts: this.s.refundAttempts });
        if (decision.action === 'leave_pending') {
          run.log.error({ kind: failure.kind, code: failure.code }, 'refund failed; the recovery loop will retry it');
          return new Pending(run.record);
        }
        run.log.warn({ attempt, kind: failure.kind, code: failure.code }, 'refund attempt failed');
        await this.backoff(run, attempt);
      }
    }
    return new Pending(run.record);
  }

  private async backoff(run: Run, attempt: number): Promise<void> {
    const delayMs = backoffDelayMs(attempt - 1, this.s.retryBaseDelayMs, this.s.retryMaxDelayMs);
    // Keep the lease through the pause so nobody else starts on it meanwhile.
    run.record = await this.deps.repository.update(run.record, run.token, {}, leaseMs(delayMs, this.s.leaseMarginMs));
    await sleep(delayMs);
  }
}
