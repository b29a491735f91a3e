import { status as GrpcStatus } from '@grpc/grpc-js';
import { WebhookServiceService, type WebhookServiceServer } from '@wallet/contracts/webhook';
import { createMetricsRegistry, richError, startGrpcServer } from '@wallet/platform';
import { freePort, unimplementedHandlers, waitFor } from '@wallet/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { testGrpcSecurity, type ServiceName } from '../../../../test/support/pki.js';
import { createGatewayClients } from '../../src/clients/grpc.js';
import { ALICE_USER, CREATED_AT, problemOf, startTestGateway, type TestGateway } from '../support/gateway.js';

// The real WebhookService client against a fake webhook-service on loopback,
// over mutual TLS with the test PKI: the gateway reaches only a server whose
// certificate names webhook-service, forwards the request id and the caller's
// token, and maps the service's rich errors (ErrorInfo reasons with the
// WEBHOOK_ERROR_REASON_ prefix) to problems.

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

interface Seen {
  url: string;
  authorization?: string;
  requestId?: string;
}

async function startFakeWebhookService(presenting: ServiceName): Promise<{ address: string; seen: Seen[] }> {
  const seen: Seen[] = [];
  const implementation: WebhookServiceServer = {
    ...unimplementedHandlers<WebhookServiceServer>(WebhookServiceService),
    createEndpoint: (call, callback) => {
      seen.push({
        url: call.request.url,
        authorization: call.metadata.get('authorization')[0] as string | undefined,
        requestId: call.metadata.get('x-request-id')[0] as string | undefined,
      });
      if (call.request.url.includes('10.0.0.1')) {
        callback(richError({ code: GrpcStatus.INVALID_ARGUMENT, reason: 'WEBHOOK_ERROR_REASON_URL_NOT_ALLOWED', message: '10.0.0.1 is a private address', domain: 'webhook.wallet' }));
        return;
      }
      const endpoint = { id: 'bebec0de-0000-4000-8000-000000000005', ownerId: ALICE_USER, url: call.request.url, events: call.request.events, enabled: true, createdAt: CREATED_AT, secretVersion: 1, previousSecretExpiresAt: undefined };
      callback(null, { endpoint, secret: 'whsec_c2VjcmV0', replayed: false });
    },
  };
  const server = await startGrpcServer({
    host: '127.0.0.1',
    port: 0,
    services: [{ name: 'wallet.webhook.v1.WebhookService', definition: WebhookServiceService, implementation }],
    credentials: (await testGrpcSecurity(presenting)).serverCredentials(),
  });
  cleanups.push(() => server.shutdown(1000));
  return { address: `127.0.0.1:${server.port}`, seen };
}

async function gatewayTo(webhookAddress: string): Promise<TestGateway> {
  const closed = `127.0.0.1:${await freePort()}`;
  const config = {
    GATEWAY_BANK_GRPC_ADDRESS: closed,
    GATEWAY_CARD_ADAPTER_GRPC_ADDRESS: closed,
    GATEWAY_ANALYTICS_GRPC_ADDRESS: closed,
    GATEWAY_WEBHOOK_GRPC_ADDRESS: webhookAddress,
    GATEWAY_GRPC_DEADLINE_MS: 5000,
    GATEWAY_TOPUP_DEADLINE_MS: 5000,
    GATEWAY_READINESS_TIMEOUT_MS: 5000,
  };
  const registry = createMetricsRegistry('api-gateway');
  const clients = createGatewayClients(config, await testGrpcSecurity('api-gateway'), registry);
  const gw = await startTestGateway({ config, clients, registry });
  cleanups.push(() => clients.close(), () => gw.close());
  return gw;
}

const register = async (gw: TestGateway, url: string, auth?: string) =>
  gw.inject({
    method: 'POST',
    url: '/webhooks',
    headers: { 'content-type': 'application/json', 'idempotency-key': 'wh-wire-1', 'x-request-id': 'req-wh-1' },
    payload: { url, events: ['transfer_in'] },
    auth: auth ?? (await gw.bearer(ALICE_USER)),
  });

describe('WebhookService client over the wire', () => {
  it('POST /webhooks reaches the webhook-service with the request id and the token; its refusal is a 422 problem', async () => {
    const service = await startFakeWebhookService('webhook-service');
    const gw = await gatewayTo(service.address);
    const auth = await gw.bearer(ALICE_USER);
    const created = await waitFor(
      async () => {
        const res = await register(gw, 'https://example.com/hook', auth);
        return res.statusCode === 201 ? res : undefined;
      },
      { timeoutMs: 30_000, what: 'a first call over mutual TLS' },
    );
    expect(created.json()).toMatchObject({ url: 'https://example.com/hook', events: ['transfer_in'], secret: 'whsec_c2VjcmV0' });
    expect(service.seen.at(-1)).toEqual({ url: 'https://example.com/hook', authorization: auth, requestId: 'req-wh-1' });

    const refused = await register(gw, 'http://10.0.0.1/hook');
    expect(refused.statusCode).toBe(422);
    expect(problemOf(refused)).toMatchObject({ type: 'urn:problem:wallet:url-not-allowed', detail: '10.0.0.1 is a private address' });
    expect((await gw.inject({ method: 'GET', url: '/readyz' })).json().checks.webhooks).toBe('ok');
  }, 60_000);

  it('refuses a server whose certificate names another service: 503, the impostor never asked', async () => {
    const impostor = await startFakeWebhookService('analytics-service');
    const gw = await gatewayTo(impostor.address);
    const res = await register(gw, 'https://example.com/hook');
    expect(res.statusCode).toBe(503);
    expect(impostor.seen).toEqual([]);
  }, 60_000);
});
