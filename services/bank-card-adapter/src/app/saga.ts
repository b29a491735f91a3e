// The top-up saga's runner: charge -> deposit -> done, or compensate. Each
// step (charge-step.ts, deposit-step.ts, refund-step.ts) persists a
// transition before the side effect it guards; decisions come from the pure
// domain (domain/saga.ts). Used by the request path and the recovery path.

import type { Logger } from '@wallet/platform';
import { withSpan } from '@wallet/platform/tracing';
import type { Bank } from '../clients/bank.js';
import type { PaymentGateway } from '../clients/payment-gateway/types.js';
import type { CRASH_POINTS } from '../config.js';
import type { RefundRepository } from '../db/refunds.js';
import { LeaseLostError, type TopUpRepository } from '../db/top-ups.js';
import { isTerminal, type TopUpRecord } from '../domain/top-up.js';
import type { TopUpLimits, ValidCard } from '../domain/validation.js';
import type { AdapterMetrics } from '../metrics.js';
import { ATTR, stepSpanName } from '../tracing.js';
import { chargeStep, resolveChargeStep } from './charge-step.js';
import { depositStep } from './deposit-step.js';
import { refundStep } from './refund-step.js';

export interface SagaSettings {
  limits: TopUpLimits;
  fingerprintSecret: string;
  gatewayTimeoutMs: number;
  bankTimeoutMs: number;
  chargeAttemptsMax: number;
  chargeResolutionGraceMs: number;
  depositAttemptsMax: number;
  depositRetryMsMax: number;
  refundAttemptsMax: number;
  retryDelayMsMin: number;
  retryDelayMsMax: number;
  /** Durable backoff of a top-up waiting on the bank or the gateway: first wait and cap. */
  waitDelayMsMin: number;
  waitDelayMsMax: number;
  leaseMarginMs: number;
}

/** Points where the crash tests make the process die (WALLET_TEST_CRASH_POINT). */
export type CrashPoint = (typeof CRASH_POINTS)[number];

/** Everything a saga step needs. */
export interface SagaContext {
  repository: TopUpRepository;
  /** The refund-to-card journal (issue #15). */
  refunds: RefundRepository;
  gateway: PaymentGateway;
  bank: Bank;
  settings: SagaSettings;
  logger: Logger;
  metrics: AdapterMetrics;
  /** The clock for card expiry and charge resolution; injected so tests can move it. */
  now: () => Date;
  crashHook?: ((point: CrashPoint) => void) | undefined;
}

/** One worker's hold on one top-up while it drives the saga. */
export interface Run {
  record: TopUpRecord;
  token: string;
  /** Present only when a client request carries the card; the recovery loop never has it. */
  card: ValidCard | undefined;
  log: Logger;
  headers: Record<string, string | undefined>;
}

/**
 * Ends the current phase without a final state: the recovery loop continues
 * after waitMs (0: at once). A wait is durable (lease_until in the journal),
 * so a top-up waiting on an unreachable bank costs nothing meanwhile.
 */
export class Pending {
  constructor(
    readonly record: TopUpRecord,
    readonly waitMs = 0,
  ) {}
}

/**
 * Drives the saga; never throws for infrastructure failures. If the worker
 * loses its lease or the database fails mid-way, answers with the last known
 * state (pending), which the recovery loop will finish.
 */
export async function driveSafely(ctx: SagaContext, run: Run): Promise<TopUpRecord> {
  try {
    return await drive(ctx, run);
  } catch (error) {
    if (error instanceof LeaseLostError) {
      run.log.warn('lease lost; another worker continues this top-up');
      return (await ctx.repository.findById(run.record.id).catch(() => null)) ?? run.record;
    }
    run.log.error({ err: error, state: run.record.state }, 'top-up step failed; left for recovery');
    return run.record;
  }
}

async function drive(ctx: SagaContext, run: Run): Promise<TopUpRecord> {
  // Each phase either moves to a later state or stops; the bound is the longest path.
  for (let step = 0; step < 8 && !isTerminal(run.record.state); step += 1) {
    const before = run.record.state;
    const result = await runStep(ctx, run);
    if (result instanceof Pending) return park(ctx, run, result);
    run.record = result;
    if (run.record.state === before) break;
  }
  return run.record;
}

/** One step in its span (top_up.charge / deposit / refund): the top-up, the states it passed, how it ended. */
function runStep(ctx: SagaContext, run: Run): Promise<TopUpRecord | Pending> {
  const name = stepSpanName(run.record.state);
  if (name === null) return Promise.resolve(run.record);
  const from = run.record.state;
  const attributes = { [ATTR.id]: run.record.id, [ATTR.stateFrom]: from, [ATTR.withoutCard]: run.card === undefined };
  return withSpan(name, { attributes }, async (span) => {
    const result = await step(ctx, run);
    const to = result instanceof Pending ? result.record.state : result.state;
    span.setAttributes({ [ATTR.stateTo]: to, [ATTR.stepResult]: result instanceof Pending ? 'pending' : to === from ? 'unchanged' : 'advanced' });
    return result;
  });
}

function step(ctx: SagaContext, run: Run): Promise<TopUpRecord | Pending> {
  switch (run.record.state) {
    case 'RECEIVED':
    case 'CHARGING':
      return run.card ? chargeStep(ctx, run, run.card) : resolveChargeStep(ctx, run);
    case 'CHARGED':
      return depositStep(ctx, run);
    case 'REFUNDING':
      return refundStep(ctx, run);
    default:
      return Promise.resolve(run.record);
  }
}

/** Hands a pending top-up back, to be picked up again after its wait. */
async function park(ctx: SagaContext, run: Run, pending: Pending): Promise<TopUpRecord> {
  let record = pending.record;
  try {
    if (pending.waitMs > 0) record = await ctx.repository.update(record, run.token, { waitRounds: record.waitRounds + 1 }, ctx.settings.leaseMarginMs);
    await ctx.repository.release(record, run.token, pending.waitMs);
  } catch (error) {
    // The lease then simply expires; recovery takes over a little later.
    run.log.warn({ err: error }, 'could not release the top-up');
  }
  return record;
}
