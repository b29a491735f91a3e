import { createMetricsRegistry } from '@wallet/platform';
import { waitFor } from '@wallet/testkit';
import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import type { BankApi } from '../../src/clients/types.js';
import { createDrainState, drainAndClose } from '../../src/drain.js';
import { buildOpsServer } from '../../src/ops-server.js';
import { ALICE, fakeClients, memoryLogger, startTestGateway, type TestGateway } from '../support/gateway.js';

describe('draining (SIGTERM)', () => {
  let gw: TestGateway | undefined;
  afterEach(async () => {
    await gw?.app.close();
    await gw?.issuer.close();
    gw = undefined;
  });

  it('/readyz answers 503 at once without probing anything while other requests are still served, with Connection: close', async () => {
    const drain = createDrainState();
    const clients = fakeClients();
    gw = await startTestGateway({ clients, drain });
    expect((await gw.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(200);
    clients.bank.checkHealth.mockClear();
    drain.begin();

    const ready = await gw.inject({ method: 'GET', url: '/readyz' });
    expect(ready.statusCode).toBe(503);
    expect(ready.json()).toEqual({ status: 'unavailable', checks: { gateway: 'DRAINING' } });
    expect(clients.bank.checkHealth).not.toHaveBeenCalled();
    expect((await gw.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
    const balance = await gw.inject({ method: 'GET', url: `/accounts/${ALICE}/balance` });
    expect(balance.statusCode).toBe(200);
    // Keep-alive clients (the load balancer) reconnect, and so reach another replica.
    expect(balance.headers.connection).toBe('close');
  });

  it('the ops listener reports the drain too', async () => {
    const drain = createDrainState();
    const ops = buildOpsServer({ clients: fakeClients(), registry: createMetricsRegistry('drain-ops'), logger: memoryLogger().logger, readinessTimeoutMs: 100, drain });
    try {
      drain.begin();
      const ready = await ops.inject({ method: 'GET', url: '/readyz' });
      expect(ready.statusCode).toBe(503);
      expect(ready.json()).toEqual({ status: 'unavailable', checks: { gateway: 'DRAINING' } });
    } finally {
      await ops.close();
    }
  });

  it('drainAndClose: serves during the drain, then stops accepting and lets the request in flight finish', async () => {
    const drain = createDrainState();
    const clients = fakeClients();
    const answer = clients.bank.getBalance.getMockImplementation()!;
    let release: (() => void) | undefined;
    clients.bank.getBalance.mockImplementationOnce(async (...args: Parameters<BankApi['getBalance']>) => {
      await new Promise<void>((resolve) => {
        release = resolve;
      });
      return answer(...args);
    });
    gw = await startTestGateway({ clients, drain });
    await gw.app.listen({ host: '127.0.0.1', port: 0 });
    const base = `http://127.0.0.1:${(gw.app.server.address() as { port: number }).port}`;
    const authorization = await gw.bearer();
    const inFlight = request(`${base}/accounts/${ALICE}/balance`, { headers: { authorization } });
    await waitFor(() => release !== undefined, { timeoutMs: 10_000, what: 'the request in flight' });

    // The drain period is what a load balancer needs to see the 503; the checks inside it take milliseconds.
    const closed = drainAndClose(gw.app, drain, { drainMs: 3000, closeTimeoutMs: 10_000, logger: memoryLogger().logger });
    const ready = await request(`${base}/readyz`);
    expect(ready.statusCode).toBe(503);
    await ready.body.dump();
    const during = await request(`${base}/accounts/${ALICE}/balance`, { headers: { authorization } });
    expect(during.statusCode).toBe(200);
    expect(during.headers.connection).toBe('close');
    await during.body.dump();

    // After the drain the listener closes; the request in flight still gets its answer.
    await waitFor(() => !gw!.app.server.listening, { timeoutMs: 20_000, what: 'the listener to close' });
    await expect(request(`${base}/healthz`)).rejects.toThrow();
    release!();
    const answered = await inFlight;
    expect(answered.statusCode).toBe(200);
    expect(await answered.body.json()).toMatchObject({ accountId: ALICE, balance: '1000.00' });
    await closed;
  });
});
