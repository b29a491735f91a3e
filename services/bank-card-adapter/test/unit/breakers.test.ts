// The adapter's circuit breakers as wrappers around its two clients: what
// counts as a failure, and what an open breaker's refusal means to the saga
// (certainly not sent: never ambiguous, never a reason to refund).
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { BankCallError, classifyDepositError, type Bank } from '../../src/clients/bank.js';
import {
  BreakerBank,
  BreakerPaymentGateway,
  CIRCUIT_OPEN,
  createDownstreamBreakers,
  GATEWAY_CIRCUIT_OPEN,
  isPaymentGatewayFailure,
  type DownstreamBreakers,
} from '../../src/clients/breakers.js';
import { PaymentGatewayError, type PaymentGateway } from '../../src/clients/payment-gateway/types.js';
import { decideAfterChargeFailure, decideAfterDepositFailure, decideAfterRefundFailure } from '../../src/domain/saga.js';

const logger = pino({ level: 'silent' });
const created: DownstreamBreakers[] = [];
afterEach(() => {
  for (const breakers of created.splice(0)) breakers.shutdown();
});

function breakers(): DownstreamBreakers {
  const made = createDownstreamBreakers({ resetTimeoutMs: 60_000, errorThresholdPercentage: 50, volumeThreshold: 3, rollingCountTimeoutMs: 10_000 }, new Registry(), logger);
  created.push(made);
  return made;
}

/** A gateway whose every call fails with `error` (or answers a decline), counting calls. */
function gatewayFailingWith(error: Error | 'decline'): PaymentGateway & { calls: number } {
  const gateway = {
    calls: 0,
    charge: async () => {
      gateway.calls += 1;
      if (error === 'decline') return { chargeId: 'ch_1', status: 'declined' as const, declineCode: 'card_declined' };
      throw error;
    },
    findCharge: async () => {
      gateway.calls += 1;
      if (error === 'decline') return null;
      throw error;
    },
    refund: async () => {
      gateway.calls += 1;
      throw error;
    },
    findRefund: async () => {
      gateway.calls += 1;
      throw error;
    },
    ping: async () => {},
    close: async () => {},
  };
  return gateway;
}

function bankFailingWith(error: BankCallError): Bank & { calls: number } {
  const bank = {
    calls: 0,
    deposit: async () => {
      bank.calls += 1;
      throw error;
    },
    lookUpDeposit: async () => {
      bank.calls += 1;
      throw error;
    },
    checkAccount: async () => {
      bank.calls += 1;
      throw error;
    },
    refundDeposit: async () => {
      bank.calls += 1;
      throw error;
    },
    lookUpRefund: async () => {
      bank.calls += 1;
      throw error;
    },
    cancelRefund: async () => {
      bank.calls += 1;
      throw error;
    },
    ping: async () => {},
    close: () => {},
  };
  return bank;
}

const charge = { idempotencyKey: 'topup-1-charge', amountMinor: 100n, currency: 'USD', card: { number: '4242424242424242', expiryMonth: 12, expiryYear: 2035, cvc: '123' } };
const deposit = { accountId: 'a', amountMinor: 100n, currency: 'USD', depositReference: 'topup-1', topUpId: '1', cardLast4: '4242', cardBrand: 'visa', initiatedBy: 'u' };

describe('payment_gateway breaker', () => {
  it('opens on gateway outages and then refuses a charge unsent, as not_processed (nothing charged), with a retry-after', async () => {
    const b = breakers();
    const inner = gatewayFailingWith(new PaymentGatewayError('not_processed', 'unreachable', 'refused'));
    const gateway = new BreakerPaymentGateway(inner, b.paymentGateway);
    for (let i = 0; i < 3; i += 1) await expect(gateway.charge(charge)).rejects.toMatchObject({ kind: 'not_processed', code: 'unreachable' });
    expect(b.states().payment_gateway).toBe('open');
    expect(gateway.refusingForSeconds()).toBeGreaterThanOrEqual(1);

    const refusal = await gateway.charge(charge).catch((error: unknown) => error);
    expect(refusal).toBeInstanceOf(PaymentGatewayError);
    expect(refusal).toMatchObject({ kind: 'not_processed', code: GATEWAY_CIRCUIT_OPEN });
    await expect(gateway.findCharge('topup-1-charge')).rejects.toMatchObject({ code: GATEWAY_CIRCUIT_OPEN });
    await expect(gateway.refund({ chargeId: 'ch_1', idempotencyKey: 'topup-1-refund' })).rejects.toMatchObject({ code: GATEWAY_CIRCUIT_OPEN });
    expect(inner.calls).toBe(3);
    // The bank's breaker is separate: a gateway outage does not stop deposits.
    expect(b.states().bank).toBe('closed');
  });

  it('timeouts, dropped connections and 5xx count; 4xx refusals and declines never open it', async () => {
    expect(isPaymentGatewayFailure(new PaymentGatewayError('timeout', 'deadline_exceeded', 'x'))).toBe(true);
    expect(isPaymentGatewayFailure(new PaymentGatewayError('unknown', 'http_502', 'x'))).toBe(true);
    expect(isPaymentGatewayFailure(new PaymentGatewayError('rejected', 'idempotency_conflict', 'x'))).toBe(false);

    const b = breakers();
    const refusing = new BreakerPaymentGateway(gatewayFailingWith(new PaymentGatewayError('rejected', 'invalid_request', 'x')), b.paymentGateway);
    for (let i = 0; i < 10; i += 1) await expect(refusing.charge(charge)).rejects.toMatchObject({ kind: 'rejected' });
    const declining = new BreakerPaymentGateway(gatewayFailingWith('decline'), b.paymentGateway);
    for (let i = 0; i < 10; i += 1) expect((await declining.charge(charge)).status).toBe('declined');
    expect(b.states().payment_gateway).toBe('closed');
    expect(refusing.refusingForSeconds()).toBe(0);
  });
});

describe('bank breaker', () => {
  it('opens on UNAVAILABLE and then refuses DepositMoney unsent: classified not_sent, never rejected (no refund on it)', async () => {
    const b = breakers();
    const inner = bankFailingWith(new BankCallError('UNAVAILABLE', 'STORAGE_UNAVAILABLE', 'bank.wallet', 'down'));
    const bank = new BreakerBank(inner, b.bank);
    for (let i = 0; i < 3; i += 1) await expect(bank.deposit(deposit)).rejects.toMatchObject({ code: 'UNAVAILABLE', notSent: false });
    expect(b.states().bank).toBe('open');

    const refusal = (await bank.deposit(deposit).catch((error: unknown) => error)) as BankCallError;
    expect(refusal).toBeInstanceOf(BankCallError);
    expect(refusal).toMatchObject({ code: 'UNAVAILABLE', reason: CIRCUIT_OPEN, notSent: true });
    expect(refusal.retryAfterSeconds).toBeGreaterThanOrEqual(1);
    expect(classifyDepositError(refusal)).toBe('not_sent');
    await expect(bank.lookUpDeposit('topup-1', true)).rejects.toMatchObject({ notSent: true });
    await expect(bank.checkAccount('a', 'Bearer t')).rejects.toMatchObject({ notSent: true });
    expect(inner.calls).toBe(3);
  });

  it('business answers (NOT_FOUND, FAILED_PRECONDITION) and refusals of the caller (PERMISSION_DENIED) never open it', async () => {
    const b = breakers();
    for (const error of [
      new BankCallError('NOT_FOUND', 'ACCOUNT_NOT_FOUND', 'bank.wallet', 'x'),
      new BankCallError('FAILED_PRECONDITION', 'DEPOSIT_REFERENCE_VOIDED', 'bank.wallet', 'x'),
      new BankCallError('PERMISSION_DENIED', 'CALLER_NOT_ALLOWED', 'bank.wallet', 'x'),
    ]) {
      const bank = new BreakerBank(bankFailingWith(error), b.bank);
      for (let i = 0; i < 5; i += 1) await expect(bank.deposit(deposit)).rejects.toBe(error);
    }
    expect(b.states().bank).toBe('closed');
  });
});

describe('saga decisions on an open breaker', () => {
  it('a deposit refused unsent is looked up (then waits), never refunded and never retried in the run', () => {
    const input = { attemptsDone: 1, attemptsMax: 4, elapsedMs: 0, nextDelayMs: 10, retryMsMax: 10_000 };
    expect(decideAfterDepositFailure({ ...input, failure: 'not_sent' })).toEqual({ action: 'look_up' });
  });

  it('a charge refused by the open breaker is not retried in the run: it fails as not charged, or is looked up if an earlier attempt was ambiguous', () => {
    const input = { kind: 'not_processed' as const, attemptsDone: 1, maxAttempts: 3, retryPointless: true };
    expect(decideAfterChargeFailure({ ...input, everAmbiguous: false })).toMatchObject({ action: 'fail', reason: 'PAYMENT_GATEWAY_ERROR' });
    expect(decideAfterChargeFailure({ ...input, everAmbiguous: true })).toEqual({ action: 'resolve_unknown' });
  });

  it('a refund refused by the open breaker is left to recovery at once (never given up)', () => {
    expect(decideAfterRefundFailure({ kind: 'not_processed', attemptsDone: 1, attemptsMax: 3, retryPointless: true })).toEqual({ action: 'leave_pending' });
  });
});
