import { status as GrpcStatus } from '@grpc/grpc-js';
import { createMetricsRegistry } from '@wallet/platform';
import { waitFor } from '@wallet/testkit';
import type { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { createGatewayBreakers, guardClients } from '../../src/clients/guarded.js';
import type { GatewayClients } from '../../src/clients/types.js';
import type { GatewayConfig } from '../../src/config.js';
import {
  ALICE,
  BOB,
  fakeClients,
  grpcError,
  memoryLogger,
  problemOf,
  startTestGateway,
  testConfig,
  transportError,
  UNKNOWN_ACCOUNT,
  type FakeClients,
  type TestGateway,
} from '../support/gateway.js';

const balanceUrl = `/accounts/${ALICE}/balance`;
const unavailable = () => transportError(GrpcStatus.UNAVAILABLE, 'No connection established');

async function metricValue(registry: Registry, name: string, labels: Record<string, string>): Promise<number | undefined> {
  const metric = await registry.getSingleMetric(name)?.get();
  return metric?.values.find((v) => Object.entries(labels).every(([k, value]) => v.labels[k] === value))?.value;
}

describe('circuit breakers around bank, card adapter and analytics', () => {
  let gw: TestGateway | undefined;
  let fakes: FakeClients;
  let registry: Registry;
  let guarded: GatewayClients;
  afterEach(async () => {
    guarded?.close();
    await gw?.close();
    gw = undefined;
  });

  /** A gateway whose fake clients sit behind real breakers that open after 2 calls with 50 % failures. */
  async function start(overrides: Partial<GatewayConfig> = {}): Promise<TestGateway> {
    fakes = fakeClients();
    registry = createMetricsRegistry('gateway-breaker-test');
    const config = testConfig({ GATEWAY_BREAKER_VOLUME_MIN: 2, GATEWAY_BREAKER_FAILURE_PERCENT_MAX: 50, GATEWAY_BREAKER_RESET_TIMEOUT_MS: 60_000, ...overrides });
    guarded = guardClients(fakes, createGatewayBreakers(config, registry, memoryLogger().logger));
    gw = await startTestGateway({ clients: guarded, registry, config: overrides });
    return gw;
  }

  async function openBankBreaker(): Promise<void> {
    fakes.bank.getBalance.mockRejectedValueOnce(unavailable()).mockRejectedValueOnce(unavailable());
    for (let i = 0; i < 2; i += 1) {
      const res = await gw!.inject({ method: 'GET', url: balanceUrl });
      expect(res.statusCode).toBe(503);
      expect(problemOf(res).type).toBe('urn:problem:wallet:service-unavailable');
    }
  }

  it('open breaker: a transfer gets 503 dependency-unavailable naming the bank, Retry-After until the probe, and nothing is sent', async () => {
    await start();
    await openBankBreaker();
    fakes.bank.transferMoney.mockClear();
    fakes.bank.getBalance.mockClear();

    const started = Date.now();
    const res = await gw!.inject({
      method: 'POST',
      url: `/accounts/${ALICE}/transfers`,
      headers: { 'idempotency-key': 'breaker-1' },
      payload: { recipientAccountId: BOB, amount: '1.00' },
    });
    expect(res.statusCode).toBe(503);
    const problem = problemOf(res);
    expect(problem).toMatchObject({ type: 'urn:problem:wallet:dependency-unavailable', code: 'DEPENDENCY_UNAVAILABLE', status: 503 });
    expect(problem.detail).toContain('bank service');
    // Open for GATEWAY_BREAKER_RESET_TIMEOUT_MS (60 s): Retry-After counts down to the half-open probe.
    const elapsedS = Math.ceil((Date.now() - started) / 1000);
    expect(Number(res.headers['retry-after'])).toBeGreaterThanOrEqual(60 - elapsedS - 1);
    expect(Number(res.headers['retry-after'])).toBeLessThanOrEqual(60);
    expect(fakes.bank.transferMoney).not.toHaveBeenCalled();
    expect((await gw!.inject({ method: 'GET', url: balanceUrl })).statusCode).toBe(503);
    expect(fakes.bank.getBalance).not.toHaveBeenCalled();

    expect(await metricValue(registry, 'circuit_breaker_state', { breaker: 'bank' })).toBe(2);
    expect(await metricValue(registry, 'circuit_breaker_rejections_total', { breaker: 'bank' })).toBe(2);
    // Readiness still follows the bank's health check; the detail shows every breaker.
    const ready = await gw!.inject({ method: 'GET', url: '/readyz' });
    expect(ready.statusCode).toBe(200);
    expect(ready.json()).toEqual({
      status: 'ok',
      checks: { bank: 'ok', cardAdapter: 'ok', analytics: 'ok', webhooks: 'ok' },
      breakers: { bank: 'open', card_adapter: 'closed', analytics: 'closed', webhooks: 'closed' },
    });
    // The other dependencies' breakers are their own: a top-up still goes through.
    const topUp = await gw!.inject({
      method: 'POST',
      url: `/accounts/${ALICE}/topup`,
      headers: { 'idempotency-key': 'breaker-topup-1' },
      payload: { amount: '5.00', card: { number: '4242424242424242', expiryMonth: 12, expiryYear: 2030, cvc: '123' } },
    });
    expect(topUp.statusCode).toBe(201);
  });

  it('open card-adapter breaker: a top-up is refused before anything is charged (charged: false)', async () => {
    await start();
    fakes.cardAdapter.processCardTopUp.mockRejectedValue(transportError(GrpcStatus.DEADLINE_EXCEEDED, 'Deadline exceeded'));
    const topUp = (key: string) =>
      gw!.inject({
        method: 'POST',
        url: `/accounts/${ALICE}/topup`,
        headers: { 'idempotency-key': key },
        payload: { amount: '5.00', card: { number: '4242424242424242', expiryMonth: 12, expiryYear: 2030, cvc: '123' } },
      });
    expect((await topUp('t-1')).statusCode).toBe(504);
    expect((await topUp('t-2')).statusCode).toBe(504);
    fakes.cardAdapter.processCardTopUp.mockClear();
    const refused = await topUp('t-3');
    expect(refused.statusCode).toBe(503);
    expect(problemOf(refused)).toMatchObject({ type: 'urn:problem:wallet:dependency-unavailable', charged: false });
    expect(problemOf(refused).detail).toContain('card top-up service');
    expect(fakes.cardAdapter.processCardTopUp).not.toHaveBeenCalled();
  });

  it('the card adapter answering that the payment gateway is unavailable does not open the card-adapter breaker (no cascade)', async () => {
    await start();
    // What the adapter answers, fast, while its own payment_gateway breaker is open: healthy, just refusing.
    fakes.cardAdapter.processCardTopUp.mockRejectedValue(
      grpcError(GrpcStatus.UNAVAILABLE, 'PAYMENT_GATEWAY_ERROR', 'payment gateway unavailable', { charged: 'false', unavailable: 'payment_gateway', retry_after_seconds: '5' }),
    );
    for (let i = 0; i < 6; i += 1) {
      const res = await gw!.inject({
        method: 'POST',
        url: `/accounts/${ALICE}/topup`,
        headers: { 'idempotency-key': `pgw-down-${i}` },
        payload: { amount: '5.00', card: { number: '4242424242424242', expiryMonth: 12, expiryYear: 2030, cvc: '123' } },
      });
      expect(problemOf(res).type).not.toBe('urn:problem:wallet:dependency-unavailable');
    }
    expect(fakes.cardAdapter.processCardTopUp).toHaveBeenCalledTimes(6);
    expect(guarded.breakerStates!().card_adapter).toBe('closed');
  });

  it('half-open: after the reset timeout one probe goes through, and its success closes the breaker', async () => {
    await start({ GATEWAY_BREAKER_RESET_TIMEOUT_MS: 200 });
    await openBankBreaker();
    // Refused while open; once the reset timeout passed the next call is the probe and succeeds (fake bank healthy).
    const served = await waitFor(
      async () => {
        const res = await gw!.inject({ method: 'GET', url: balanceUrl });
        return res.statusCode === 200 ? res : undefined;
      },
      { timeoutMs: 15_000, what: 'the half-open probe to be served' },
    );
    expect(served.json()).toMatchObject({ accountId: ALICE });
    expect(guarded.breakerStates!()).toMatchObject({ bank: 'closed' });
    expect(await metricValue(registry, 'circuit_breaker_transitions_total', { breaker: 'bank', to: 'half_open' })).toBeGreaterThanOrEqual(1);
    expect(await metricValue(registry, 'circuit_breaker_transitions_total', { breaker: 'bank', to: 'closed' })).toBeGreaterThanOrEqual(1);
    expect(await metricValue(registry, 'circuit_breaker_state', { breaker: 'bank' })).toBe(0);
    // Closed again: calls flow as before.
    expect((await gw!.inject({ method: 'GET', url: `/accounts/${BOB}/balance` })).statusCode).toBe(200);
  });

  it('a failed half-open probe opens the breaker again', async () => {
    await start({ GATEWAY_BREAKER_RESET_TIMEOUT_MS: 200 });
    await openBankBreaker();
    fakes.bank.getBalance.mockRejectedValue(unavailable());
    await waitFor(() => guarded.breakerStates!().bank === 'half_open', { timeoutMs: 15_000, what: 'half-open' });
    expect((await gw!.inject({ method: 'GET', url: balanceUrl })).statusCode).toBe(503);
    expect(guarded.breakerStates!().bank).toBe('open');
  });

  it('business answers (4xx) never trip a breaker', async () => {
    await start();
    fakes.bank.transferMoney.mockRejectedValue(grpcError(GrpcStatus.FAILED_PRECONDITION, 'INSUFFICIENT_FUNDS', 'insufficient funds'));
    for (let i = 0; i < 10; i += 1) {
      expect((await gw!.inject({ method: 'GET', url: `/accounts/${UNKNOWN_ACCOUNT}/balance` })).statusCode).toBe(404);
      const res = await gw!.inject({
        method: 'POST',
        url: `/accounts/${ALICE}/transfers`,
        headers: { 'idempotency-key': `business-${i}` },
        payload: { recipientAccountId: BOB, amount: '1.00' },
      });
      expect(res.statusCode).toBe(422);
    }
    expect(guarded.breakerStates!()).toEqual({ bank: 'closed', card_adapter: 'closed', analytics: 'closed', webhooks: 'closed' });
    expect((await gw!.inject({ method: 'GET', url: balanceUrl })).statusCode).toBe(200);
    expect(await metricValue(registry, 'circuit_breaker_rejections_total', { breaker: 'bank' })).toBe(0);
  });

  it('open analytics breaker: history answers 503 dependency-unavailable, balances and transfers keep working', async () => {
    await start();
    fakes.analytics.getOperations.mockRejectedValue(unavailable());
    const history = () => gw!.inject({ method: 'GET', url: `/accounts/${ALICE}/operations` });
    expect((await history()).statusCode).toBe(503);
    expect((await history()).statusCode).toBe(503);
    fakes.analytics.getOperations.mockClear();
    const refused = await history();
    expect(refused.statusCode).toBe(503);
    expect(problemOf(refused).type).toBe('urn:problem:wallet:dependency-unavailable');
    expect(fakes.analytics.getOperations).not.toHaveBeenCalled();
    // An unknown account is still the bank's 404, not the analytics breaker's 503.
    expect((await gw!.inject({ method: 'GET', url: `/accounts/${UNKNOWN_ACCOUNT}/operations` })).statusCode).toBe(404);
    expect((await gw!.inject({ method: 'GET', url: balanceUrl })).statusCode).toBe(200);
  });
});
