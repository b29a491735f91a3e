import { createMetricsRegistry } from '@wallet/platform';
import { afterEach, describe, expect, it } from 'vitest';
import { buildOpsServer, listenOps } from '../../src/ops-server.js';
import { fakeClients, memoryLogger, startTestGateway, type TestGateway } from '../support/gateway.js';

describe('production mode: /metrics and /readyz detail are not on the public port', () => {
  let gw: TestGateway | undefined;
  afterEach(async () => {
    await gw?.close();
    gw = undefined;
  });

  it('public port in production: /healthz, a bare /readyz for load balancers, no /metrics', async () => {
    gw = await startTestGateway({ config: { NODE_ENV: 'production' } });
    expect((await gw.inject({ method: 'GET', url: '/healthz' })).json()).toEqual({ status: 'ok' });
    const ready = await gw.inject({ method: 'GET', url: '/readyz' });
    expect(ready.statusCode).toBe(200);
    expect(ready.json()).toEqual({ status: 'ok' });
    gw.clients.bank.checkHealth.mockResolvedValue('unavailable');
    const notReady = await gw.inject({ method: 'GET', url: '/readyz' });
    expect(notReady.statusCode).toBe(503);
    expect(notReady.json()).toEqual({ status: 'unavailable' });
    // Not through gw.inject: the contract declares /metrics for development, where it is served.
    const metrics = await gw.app.inject({ method: 'GET', url: '/metrics' });
    expect(metrics.statusCode).toBe(404);
    expect(metrics.body).not.toContain('http_server_request_duration_seconds');
  });

  it('development keeps /metrics and the /readyz detail on the public port', async () => {
    gw = await startTestGateway();
    const ready = await gw.inject({ method: 'GET', url: '/readyz' });
    expect(ready.json()).toEqual({ status: 'ok', checks: { bank: 'ok', cardAdapter: 'ok', analytics: 'ok', webhooks: 'ok' } });
    const metrics = await gw.inject({ method: 'GET', url: '/metrics' });
    expect(metrics.statusCode).toBe(200);
    expect(metrics.body).toContain('http_server_request_duration_seconds');
  });

  it('the ops listener serves /healthz, /readyz with every dependency and /metrics', async () => {
    const clients = fakeClients();
    const registry = createMetricsRegistry('api-gateway-test');
    const ops = buildOpsServer({ clients, registry, logger: memoryLogger().logger, readinessTimeoutMs: 100 });
    try {
      expect((await ops.inject({ method: 'GET', url: '/healthz' })).json()).toEqual({ status: 'ok' });
      const ready = await ops.inject({ method: 'GET', url: '/readyz' });
      expect(ready.statusCode).toBe(200);
      expect(ready.json()).toEqual({ status: 'ok', checks: { bank: 'ok', cardAdapter: 'ok', analytics: 'ok', webhooks: 'ok' } });
      // Only the bank gates readiness; the others are reported.
      clients.analytics.checkHealth.mockResolvedValue('unavailable');
      expect((await ops.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(200);
      clients.bank.checkHealth.mockResolvedValue('unavailable');
      const notReady = await ops.inject({ method: 'GET', url: '/readyz' });
      expect(notReady.statusCode).toBe(503);
      expect(notReady.json()).toEqual({ status: 'unavailable', checks: { bank: 'unavailable', cardAdapter: 'ok', analytics: 'unavailable', webhooks: 'ok' } });
      const metrics = await ops.inject({ method: 'GET', url: '/metrics' });
      expect(metrics.statusCode).toBe(200);
      expect(metrics.headers['content-type']).toMatch(/^text\/plain/);
      expect(metrics.body).toContain('process_cpu');
      expect((await ops.inject({ method: 'GET', url: '/accounts' })).statusCode).toBe(404);
    } finally {
      await ops.close();
    }
  });

  it('listens on GATEWAY_OPS_HOST:GATEWAY_OPS_PORT (loopback by default)', async () => {
    const ops = await listenOps(
      { GATEWAY_OPS_HOST: '127.0.0.1', GATEWAY_OPS_PORT: 0, GATEWAY_READINESS_TIMEOUT_MS: 100 },
      fakeClients(),
      createMetricsRegistry('api-gateway-test'),
      memoryLogger().logger,
    );
    try {
      const address = ops.server.address();
      if (address === null || typeof address === 'string') throw new Error('not listening');
      expect(address.address).toBe('127.0.0.1');
      const res = await fetch(`http://127.0.0.1:${address.port}/metrics`, { signal: AbortSignal.timeout(5000) });
      expect(res.status).toBe(200);
    } finally {
      await ops.close();
    }
  });
});
