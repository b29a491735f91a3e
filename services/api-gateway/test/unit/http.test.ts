import { readFileSync } from 'node:fs';
import { contractPaths } from '@wallet/contracts';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ALICE, BOB, problemOf, startTestGateway, type TestGateway } from '../support/gateway.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('HTTP edge', () => {
  let gw: TestGateway;
  beforeEach(async () => {
    gw = await startTestGateway();
  });
  afterEach(async () => {
    await gw.close();
  });

  describe('request id', () => {
    it('echoes a valid X-Request-Id and forwards it downstream', async () => {
      const res = await gw.inject({ method: 'GET', url: `/accounts/${ALICE}/balance`, headers: { 'x-request-id': 'abc-123.def' } });
      expect(res.headers['x-request-id']).toBe('abc-123.def');
      expect(gw.clients.bank.getBalance.mock.calls[0]![1]).toEqual({ requestId: 'abc-123.def', authorization: expect.stringMatching(/^Bearer /) });
      expect(gw.logLines.some((line) => JSON.parse(line).requestId === 'abc-123.def')).toBe(true);
    });

    it('generates a UUID when absent, on success and error responses alike', async () => {
      for (const url of [`/accounts/${ALICE}/balance`, '/accounts/bad/balance', '/nowhere']) {
        const res = await gw.inject({ method: 'GET', url });
        expect(res.headers['x-request-id']).toMatch(UUID);
      }
      const problem = problemOf(await gw.inject({ method: 'GET', url: '/nowhere' }));
      expect(problem.requestId).toMatch(UUID);
    });

    it('replaces an id with characters outside the accepted set', async () => {
      const res = await gw.inject({ method: 'GET', url: `/accounts/${ALICE}/balance`, headers: { 'x-request-id': 'a b"c<script>' } });
      expect(res.statusCode).toBe(200);
      expect(res.headers['x-request-id']).toMatch(UUID);
    });

    it('rejects an id longer than the contract allows (128) with 400, still echoing a fresh id', async () => {
      const res = await gw.inject({ method: 'GET', url: `/accounts/${ALICE}/balance`, headers: { 'x-request-id': 'r'.repeat(129) } });
      expect(res.statusCode).toBe(400);
      expect(res.headers['x-request-id']).toMatch(UUID);
    });
  });

  describe('CORS', () => {
    it('answers a preflight from an allowed origin (CORS_ORIGINS; development default localhost:3000)', async () => {
      const res = await gw.inject({
        method: 'OPTIONS',
        url: `/accounts/${ALICE}/transfers`,
        headers: {
          origin: 'http://localhost:3000',
          'access-control-request-method': 'POST',
          'access-control-request-headers': 'content-type,idempotency-key,x-request-id',
        },
      });
      expect(res.statusCode).toBe(204);
      expect(res.headers['access-control-allow-origin']).toBe('http://localhost:3000');
      expect(String(res.headers['access-control-allow-methods'])).toContain('POST');
      expect(String(res.headers['access-control-allow-headers']).toLowerCase()).toContain('idempotency-key');
    });

    it('exposes Idempotent-Replayed, X-Request-Id, X-Trace-Id, Retry-After, WWW-Authenticate and the RateLimit headers to browsers', async () => {
      const res = await gw.inject({ method: 'GET', url: `/accounts/${ALICE}/balance`, headers: { origin: 'http://localhost:3000' } });
      expect(res.headers['access-control-allow-origin']).toBe('http://localhost:3000');
      expect(res.headers['access-control-expose-headers']).toBe(
        'Idempotent-Replayed, X-Request-Id, X-Trace-Id, Retry-After, WWW-Authenticate, RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset',
      );
    });
  });

  describe('unknown routes and methods', () => {
    it('404 problem for an unknown route', async () => {
      const res = await gw.inject({ method: 'GET', url: `/accounts/${ALICE}/nothing` });
      expect(res.statusCode).toBe(404);
      expect(problemOf(res)).toMatchObject({ status: 404, type: 'urn:problem:wallet:route-not-found', code: 'ROUTE_NOT_FOUND' });
    });

    it('405 problem with Allow for a known path and another method', async () => {
      const res = await gw.inject({ method: 'DELETE', url: `/accounts/${ALICE}/transfers` });
      expect(res.statusCode).toBe(405);
      expect(res.headers.allow).toBe('POST');
      expect(problemOf(res)).toMatchObject({ status: 405, type: 'urn:problem:wallet:method-not-allowed' });
      const get = await gw.inject({ method: 'PUT', url: `/accounts/${ALICE}/balance` });
      expect(get.statusCode).toBe(405);
      expect(get.headers.allow).toBe('GET, HEAD');
    });

    it('400 problem for a malformed URL', async () => {
      const res = await gw.inject({ method: 'GET', url: `/accounts/%E0%A4%A/balance` });
      expect(res.statusCode).toBe(400);
      expect(problemOf(res).status).toBe(400);
      expect(res.headers['x-request-id']).toMatch(UUID);
    });
  });

  describe('documentation', () => {
    it('serves openapi.yaml exactly as written', async () => {
      const res = await gw.inject({ method: 'GET', url: '/openapi.yaml' });
      expect(res.statusCode).toBe(200);
      expect(res.headers['content-type']).toMatch(/^application\/yaml/);
      expect(res.body).toBe(readFileSync(contractPaths.openapi, 'utf8'));
    });

    it('serves Swagger UI at /docs, backed by the same document', async () => {
      const page = await gw.inject({ method: 'GET', url: '/docs/' });
      expect(page.statusCode).toBe(200);
      expect(page.headers['content-type']).toMatch(/^text\/html/);
      expect(page.body).toContain('swagger');
      const redirect = await gw.inject({ method: 'GET', url: '/docs' });
      expect([200, 302]).toContain(redirect.statusCode);
      const json = await gw.inject({ method: 'GET', url: '/docs/json' });
      expect(json.statusCode).toBe(200);
      expect(json.json()).toMatchObject({ openapi: '3.1.0', info: { title: 'E-Wallet API' } });
      expect(Object.keys(json.json().paths)).toContain('/accounts/{accountId}/transfers');
    });
  });

  describe('health and metrics', () => {
    it('/healthz is 200 ok', async () => {
      const res = await gw.inject({ method: 'GET', url: '/healthz' });
      expect(res.statusCode).toBe(200);
      expect(res.json()).toEqual({ status: 'ok' });
    });

    it('/readyz is 200 when the bank is serving, and reports every dependency', async () => {
      gw.clients.analytics.checkHealth.mockResolvedValueOnce('UNAVAILABLE');
      const res = await gw.inject({ method: 'GET', url: '/readyz' });
      expect(res.statusCode).toBe(200);
      expect(res.json()).toEqual({ status: 'ok', checks: { bank: 'ok', cardAdapter: 'ok', analytics: 'UNAVAILABLE', webhooks: 'ok' } });
      expect(gw.clients.bank.checkHealth).toHaveBeenCalledWith(1000);
    });

    it('/readyz is 503 when the bank is not serving', async () => {
      gw.clients.bank.checkHealth.mockResolvedValueOnce('NOT_SERVING');
      const res = await gw.inject({ method: 'GET', url: '/readyz' });
      expect(res.statusCode).toBe(503);
      expect(res.json()).toMatchObject({ status: 'unavailable', checks: { bank: 'NOT_SERVING' } });
    });

    it('/metrics counts requests by route pattern and status, never by raw URL', async () => {
      await gw.inject({ method: 'GET', url: `/accounts/${ALICE}/balance` });
      await gw.inject({ method: 'GET', url: `/accounts/${BOB}/balance` });
      await gw.inject({ method: 'GET', url: `/no/such/${BOB}` });
      const res = await gw.inject({ method: 'GET', url: '/metrics' });
      expect(res.statusCode).toBe(200);
      expect(res.headers['content-type']).toMatch(/^text\/plain/);
      expect(res.body).toMatch(/http_server_request_duration_seconds_count\{[^}]*method="GET",route="\/accounts\/:accountId\/balance",status_code="200"[^}]*\} 2/);
      expect(res.body).toContain('route="unmatched",status_code="404"');
      expect(res.body).toContain('http_server_request_duration_seconds_bucket');
      expect(res.body).not.toContain('http_requests_total');
      expect(res.body).not.toContain(ALICE);
      expect(res.body).not.toContain(BOB);
    });
  });
});
