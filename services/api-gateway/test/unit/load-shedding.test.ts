import { createMetricsRegistry } from '@wallet/platform';
import { waitFor } from '@wallet/testkit';
import type { LightMyRequestResponse } from 'fastify';
import type { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import type { BankApi } from '../../src/clients/types.js';
import { ALICE, fakeClients, problemOf, startTestGateway, type TestGateway } from '../support/gateway.js';

async function shedCount(registry: Registry, reason: string): Promise<number> {
  const metric = await registry.getSingleMetric('gateway_load_shed_total')?.get();
  return metric?.values.find((v) => v.labels.reason === reason)?.value ?? 0;
}

/** A getBalance that waits until released: keeps requests in flight as long as the test wants. */
function heldBalances() {
  const releases: (() => void)[] = [];
  let holding = true;
  const clients = fakeClients();
  const answer = clients.bank.getBalance.getMockImplementation()!;
  clients.bank.getBalance.mockImplementation(async (...args: Parameters<BankApi['getBalance']>) => {
    if (holding) await new Promise<void>((resolve) => releases.push(resolve));
    return answer(...args);
  });
  return {
    clients,
    releaseAll: () => releases.splice(0).forEach((release) => release()),
    holdNext: (hold: boolean) => {
      holding = hold;
    },
  };
}

describe('load shedding', () => {
  let gw: TestGateway | undefined;
  afterEach(async () => {
    await gw?.close();
    gw = undefined;
  });

  it('over GATEWAY_REQUESTS_IN_FLIGHT_MAX a new request gets 503 service-overloaded + Retry-After and is never sent; health, readiness and metrics still answer', async () => {
    const registry = createMetricsRegistry('gateway-shed-test');
    const held = heldBalances();
    gw = await startTestGateway({ clients: held.clients, registry, config: { GATEWAY_REQUESTS_IN_FLIGHT_MAX: 2, GATEWAY_RETRY_AFTER_SECONDS: 3 } });
    const url = `/accounts/${ALICE}/balance`;
    const first = [gw.inject({ method: 'GET', url }), gw.inject({ method: 'GET', url })];
    await waitFor(() => held.clients.bank.getBalance.mock.calls.length === 2, { timeoutMs: 10_000, what: 'two balance calls in flight' });

    const shed = await gw.inject({ method: 'GET', url });
    expect(shed.statusCode).toBe(503);
    expect(shed.headers['retry-after']).toBe('3');
    expect(problemOf(shed)).toMatchObject({ type: 'urn:problem:wallet:service-overloaded', code: 'SERVICE_OVERLOADED', status: 503 });
    const transfer = await gw.inject({
      method: 'POST',
      url: `/accounts/${ALICE}/transfers`,
      headers: { 'idempotency-key': 'shed-1' },
      payload: { recipientAccountId: '987e6543-e21b-34d3-c456-426614174999', amount: '1.00' },
    });
    expect(transfer.statusCode).toBe(503);
    expect(held.clients.bank.transferMoney).not.toHaveBeenCalled();
    expect(held.clients.bank.getBalance).toHaveBeenCalledTimes(2);
    expect(await shedCount(registry, 'requests_in_flight')).toBe(2);

    for (const path of ['/healthz', '/readyz', '/metrics']) {
      expect((await gw.inject({ method: 'GET', url: path })).statusCode, path).toBe(200);
    }

    held.releaseAll();
    for (const res of await Promise.all(first)) expect(res.statusCode).toBe(200);
    // The finished requests left the count: new work is accepted again.
    const after = gw.inject({ method: 'GET', url });
    await waitFor(() => held.clients.bank.getBalance.mock.calls.length === 3, { timeoutMs: 10_000, what: 'the next call' });
    held.releaseAll();
    expect((await after).statusCode).toBe(200);
  });

  it('a client that goes away leaves the in-flight count too', async () => {
    const held = heldBalances();
    gw = await startTestGateway({ clients: held.clients, config: { GATEWAY_REQUESTS_IN_FLIGHT_MAX: 1 } });
    await gw.app.listen({ host: '127.0.0.1', port: 0 });
    const { port } = gw.app.server.address() as { port: number };
    const token = await gw.bearer();
    const abort = new AbortController();
    const gone = fetch(`http://127.0.0.1:${port}/accounts/${ALICE}/balance`, { headers: { authorization: token }, signal: abort.signal }).catch(() => 'aborted');
    await waitFor(() => held.clients.bank.getBalance.mock.calls.length === 1, { timeoutMs: 10_000, what: 'the call in flight' });
    abort.abort();
    expect(await gone).toBe('aborted');
    // Once the socket closed, the slot is free: a request is served (not shed) again.
    held.holdNext(false);
    await waitFor(async () => (await gw!.inject({ method: 'GET', url: `/accounts/${ALICE}/balance` })).statusCode === 200, {
      timeoutMs: 10_000,
      what: 'a served request after the client went away',
    });
    held.releaseAll();
  });

  it('when the event loop lags past GATEWAY_EVENT_LOOP_DELAY_MS_MAX new requests get 503 service-overloaded, /healthz still 200', async () => {
    const registry = createMetricsRegistry('gateway-shed-loop-test');
    gw = await startTestGateway({ registry, config: { GATEWAY_EVENT_LOOP_DELAY_MS_MAX: 10 } });
    const url = `/accounts/${ALICE}/balance`;
    let shed: LightMyRequestResponse | undefined;
    await waitFor(
      async () => {
        // Block the loop (as a CPU-bound burst would) so the next sample sees the delay.
        const until = Date.now() + 300;
        while (Date.now() < until) {
          /* busy */
        }
        const res = await gw!.inject({ method: 'GET', url });
        if (res.statusCode === 503) shed = res;
        return shed !== undefined;
      },
      { timeoutMs: 30_000, intervalMs: 50, what: 'a request shed for event-loop delay' },
    );
    expect(shed!.headers['retry-after']).toBe('1');
    expect(problemOf(shed!)).toMatchObject({ type: 'urn:problem:wallet:service-overloaded' });
    expect(await shedCount(registry, 'event_loop_delay')).toBeGreaterThan(0);
    expect((await gw.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
  });
});
