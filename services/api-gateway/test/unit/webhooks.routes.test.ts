import { status as GrpcStatus } from '@grpc/grpc-js';
import { DeliveryStatus, type Delivery, type Endpoint } from '@wallet/contracts/webhook';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ADMIN_USER, ALICE, ALICE_USER, CREATED_AT, grpcError, problemOf, startTestGateway, transportError, type TestGateway } from '../support/gateway.js';

const WEBHOOK = 'bebec0de-0000-4000-8000-000000000005';
const DELIVERY = 'de11c0de-0000-4000-8000-000000000006';
const SECRET = `whsec_${Buffer.alloc(32, 7).toString('base64')}`;
const body = { url: 'https://example.com/hooks', events: ['transfer_in', 'transfer_out'] };

function endpoint(overrides: Partial<Endpoint> = {}): Endpoint {
  return { id: WEBHOOK, ownerId: ALICE_USER, url: body.url, events: body.events, enabled: true, createdAt: CREATED_AT, secretVersion: 1, previousSecretExpiresAt: undefined, ...overrides };
}

function delivery(overrides: Partial<Delivery> = {}): Delivery {
  return {
    id: DELIVERY,
    endpointId: WEBHOOK,
    eventId: 'evt-1',
    eventType: 'transfer_in',
    accountId: ALICE,
    status: DeliveryStatus.DELIVERY_STATUS_PENDING,
    attempts: 2,
    lastStatusCode: 500,
    lastError: 'HTTP 500',
    createdAt: CREATED_AT,
    nextAttemptAt: new Date(CREATED_AT.getTime() + 60_000),
    deliveredAt: undefined,
    secretVersions: [2, 1],
    ...overrides,
  };
}

const ENDPOINT_JSON = {
  id: WEBHOOK,
  ownerId: ALICE_USER,
  url: body.url,
  events: body.events,
  enabled: true,
  createdAt: CREATED_AT.toISOString(),
  secretVersion: 1,
};

describe('/webhooks routes (webhook-service fake)', () => {
  let gw: TestGateway;
  let auth: string;
  beforeEach(async () => {
    gw = await startTestGateway();
    auth = await gw.bearer(ALICE_USER);
  });
  afterEach(async () => {
    await gw.close();
  });
  const create = (payload: unknown = body, headers: Record<string, string> = { 'idempotency-key': 'wh-1' }) =>
    gw.inject({ method: 'POST', url: '/webhooks', headers: { 'content-type': 'application/json', ...headers }, payload: JSON.stringify(payload), auth });

  describe('POST /webhooks', () => {
    it('201 with the endpoint and its secret, never stored on the way; the service gets url, events, key and the token', async () => {
      gw.clients.webhooks.createEndpoint.mockResolvedValueOnce({ endpoint: endpoint(), secret: SECRET, replayed: false });
      const res = await create();
      expect(res.statusCode).toBe(201);
      expect(res.json()).toEqual({ ...ENDPOINT_JSON, secret: SECRET });
      expect(res.headers['cache-control']).toBe('no-store');
      expect(res.headers['idempotent-replayed']).toBeUndefined();
      const [request, context] = gw.clients.webhooks.createEndpoint.mock.calls[0]!;
      expect(request).toEqual({ url: body.url, events: body.events, idempotencyKey: 'wh-1' });
      expect(context).toEqual({ requestId: res.headers['x-request-id'], authorization: auth });
      expect(gw.logLines.join('\n')).not.toContain(SECRET);
    });

    it('a replay is 201 with Idempotent-Replayed: true and the same secret (a client whose answer was lost recovers it)', async () => {
      gw.clients.webhooks.createEndpoint.mockResolvedValueOnce({ endpoint: endpoint(), secret: SECRET, replayed: true });
      const res = await create();
      expect(res.statusCode).toBe(201);
      expect(res.headers['idempotent-replayed']).toBe('true');
      expect(res.headers['cache-control']).toBe('no-store');
      expect(res.json()).toEqual({ ...ENDPOINT_JSON, secret: SECRET });
    });

    it.each([
      ['no events', { url: body.url, events: [] }],
      ['an unknown event type', { url: body.url, events: ['everything'] }],
      ['a URL that is not http(s)', { url: 'file:///etc/passwd', events: ['transfer_in'] }],
      ['a URL as a number', { url: 42, events: ['transfer_in'] }],
      ['an unknown field', { ...body, secret: 'mine' }],
    ])('400 for %s, and the service is not called', async (_name, payload) => {
      const res = await create(payload);
      expect(res.statusCode).toBe(400);
      expect(gw.clients.webhooks.createEndpoint).not.toHaveBeenCalled();
    });

    it('400 without an Idempotency-Key', async () => {
      const res = await create(body, {});
      expect(res.statusCode).toBe(400);
      expect(gw.clients.webhooks.createEndpoint).not.toHaveBeenCalled();
    });

    it('401 without a token', async () => {
      const res = await gw.inject({ method: 'POST', url: '/webhooks', headers: { 'content-type': 'application/json', 'idempotency-key': 'k' }, payload: JSON.stringify(body), auth: false });
      expect(res.statusCode).toBe(401);
    });

    it.each([
      ['URL_NOT_ALLOWED (SSRF: a private address)', GrpcStatus.INVALID_ARGUMENT, 'URL_NOT_ALLOWED', 422, 'urn:problem:wallet:url-not-allowed'],
      ['the enum name with its prefix', GrpcStatus.INVALID_ARGUMENT, 'WEBHOOK_ERROR_REASON_URL_NOT_ALLOWED', 422, 'urn:problem:wallet:url-not-allowed'],
      ['TOO_MANY_ENDPOINTS', GrpcStatus.FAILED_PRECONDITION, 'TOO_MANY_ENDPOINTS', 422, 'urn:problem:wallet:too-many-webhooks'],
      ['IDEMPOTENCY_KEY_REUSED', GrpcStatus.FAILED_PRECONDITION, 'IDEMPOTENCY_KEY_REUSED', 422, 'urn:problem:wallet:idempotency-key-reused'],
      ['ROLE_FORBIDDEN (support)', GrpcStatus.PERMISSION_DENIED, 'ROLE_FORBIDDEN', 403, 'urn:problem:wallet:forbidden'],
      ['STORAGE_UNAVAILABLE', GrpcStatus.UNAVAILABLE, 'STORAGE_UNAVAILABLE', 503, 'urn:problem:wallet:service-unavailable'],
      ['IDENTITY_UNAVAILABLE', GrpcStatus.UNAVAILABLE, 'WEBHOOK_ERROR_REASON_IDENTITY_UNAVAILABLE', 503, 'urn:problem:wallet:service-unavailable'],
    ])('%s is answered as its problem+json', async (_name, code, reason, status, type) => {
      gw.clients.webhooks.createEndpoint.mockRejectedValueOnce(grpcError(code, reason, 'refused: 10.0.0.1 is a private address'));
      const res = await create();
      expect(res.statusCode).toBe(status);
      expect(problemOf(res)).toMatchObject({ status, type });
    });

    it('a deadline is 504 (the outcome is unknown: retry with the same key)', async () => {
      gw.clients.webhooks.createEndpoint.mockRejectedValueOnce(transportError(GrpcStatus.DEADLINE_EXCEEDED, 'deadline'));
      const res = await create();
      expect(res.statusCode).toBe(504);
    });
  });

  describe('POST /webhooks/{id}/secret/rotate', () => {
    const NEW_SECRET = `whsec_${Buffer.alloc(32, 9).toString('base64')}`;
    const GRACE_END = new Date(CREATED_AT.getTime() + 3_600_000);
    const rotate = (payload: unknown, headers: Record<string, string> = { 'idempotency-key': 'rot-1' }) =>
      gw.inject({
        method: 'POST',
        url: `/webhooks/${WEBHOOK}/secret/rotate`,
        headers: payload === undefined ? headers : { 'content-type': 'application/json', ...headers },
        ...(payload === undefined ? {} : { payload: JSON.stringify(payload) }),
        auth,
      });

    it('200 with the new version and secret, no-store; the service gets the id, the key and the grace period', async () => {
      gw.clients.webhooks.rotateSecret.mockResolvedValueOnce({
        endpoint: endpoint({ secretVersion: 2, previousSecretExpiresAt: GRACE_END }),
        secretVersion: 2,
        secret: NEW_SECRET,
        replayed: false,
        createdAt: CREATED_AT,
      });
      const res = await rotate({ gracePeriodSeconds: 3600 });
      expect(res.statusCode, res.body).toBe(200);
      expect(res.json()).toEqual({ webhookId: WEBHOOK, secretVersion: 2, secret: NEW_SECRET, createdAt: CREATED_AT.toISOString(), previousSecretExpiresAt: GRACE_END.toISOString() });
      expect(res.headers['cache-control']).toBe('no-store');
      expect(gw.clients.webhooks.rotateSecret.mock.calls[0]![0]).toEqual({ endpointId: WEBHOOK, idempotencyKey: 'rot-1', gracePeriodSeconds: 3600 });
      expect(gw.logLines.join('\n')).not.toContain(NEW_SECRET);
    });

    it('without a body the service\'s default grace period applies; a replay is Idempotent-Replayed with the same secret', async () => {
      gw.clients.webhooks.rotateSecret.mockResolvedValueOnce({ endpoint: endpoint({ secretVersion: 3 }), secretVersion: 2, secret: NEW_SECRET, replayed: true, createdAt: CREATED_AT });
      const res = await rotate(undefined);
      expect(res.statusCode, res.body).toBe(200);
      expect(res.headers['idempotent-replayed']).toBe('true');
      // Version 2 was replaced since: its own grace end is not this rotation's to show.
      expect(res.json()).toEqual({ webhookId: WEBHOOK, secretVersion: 2, secret: NEW_SECRET, createdAt: CREATED_AT.toISOString() });
      expect(gw.clients.webhooks.rotateSecret.mock.calls[0]![0]).toEqual({ endpointId: WEBHOOK, idempotencyKey: 'rot-1', gracePeriodSeconds: undefined });
    });

    it.each([
      ['no Idempotency-Key', {}, {}],
      ['a negative grace period', { gracePeriodSeconds: -1 }, { 'idempotency-key': 'k' }],
      ['a grace period above 7 days', { gracePeriodSeconds: 604_801 }, { 'idempotency-key': 'k' }],
      ['an unknown field', { secret: 'mine' }, { 'idempotency-key': 'k' }],
    ])('400 for %s, and the service is not called', async (_name, payload, headers) => {
      const res = await rotate(payload, headers);
      expect(res.statusCode).toBe(400);
      expect(gw.clients.webhooks.rotateSecret).not.toHaveBeenCalled();
    });

    it.each([
      ['NOT_FOUND (deleted, or not the caller\'s)', GrpcStatus.NOT_FOUND, 'NOT_FOUND', 404],
      ['IDEMPOTENCY_KEY_REUSED', GrpcStatus.FAILED_PRECONDITION, 'IDEMPOTENCY_KEY_REUSED', 422],
      ['ROLE_FORBIDDEN (support)', GrpcStatus.PERMISSION_DENIED, 'ROLE_FORBIDDEN', 403],
    ])('%s is answered as its problem+json', async (_name, code, reason, status) => {
      gw.clients.webhooks.rotateSecret.mockRejectedValueOnce(grpcError(code, reason, 'refused'));
      const res = await rotate({});
      expect(res.statusCode).toBe(status);
      expect(problemOf(res).status).toBe(status);
    });

    it('an answer without a secret is a 500, never an empty secret', async () => {
      gw.clients.webhooks.rotateSecret.mockResolvedValueOnce({ endpoint: endpoint(), secretVersion: 2, secret: '', replayed: false, createdAt: CREATED_AT });
      expect((await rotate({})).statusCode).toBe(500);
    });
  });

  describe('reads, delete, redeliver', () => {
    it('GET /webhooks lists the caller\'s endpoints; ownerId is passed on for support/admin', async () => {
      gw.clients.webhooks.listEndpoints.mockResolvedValue({ endpoints: [endpoint(), endpoint({ id: DELIVERY, enabled: false })] });
      const mine = await gw.inject({ method: 'GET', url: '/webhooks', auth });
      expect(mine.statusCode).toBe(200);
      expect(mine.json()).toEqual({ items: [ENDPOINT_JSON, { ...ENDPOINT_JSON, id: DELIVERY, enabled: false }] });
      expect(gw.clients.webhooks.listEndpoints.mock.calls[0]![0]).toEqual({ ownerId: '' });
      const theirs = await gw.inject({ method: 'GET', url: `/webhooks?ownerId=${ALICE_USER}`, auth: await gw.bearer(ADMIN_USER, ['admin']) });
      expect(theirs.statusCode).toBe(200);
      expect(gw.clients.webhooks.listEndpoints.mock.calls[1]![0]).toEqual({ ownerId: ALICE_USER });
    });

    it('GET /webhooks/{id} answers the endpoint without a secret; an unknown one is 404', async () => {
      gw.clients.webhooks.getEndpoint.mockResolvedValueOnce({ endpoint: endpoint() });
      const res = await gw.inject({ method: 'GET', url: `/webhooks/${WEBHOOK.toUpperCase()}`, auth });
      expect(res.statusCode).toBe(200);
      expect(res.json()).toEqual(ENDPOINT_JSON);
      expect(gw.clients.webhooks.getEndpoint.mock.calls[0]![0]).toEqual({ endpointId: WEBHOOK });
      gw.clients.webhooks.getEndpoint.mockRejectedValueOnce(grpcError(GrpcStatus.NOT_FOUND, 'NOT_FOUND', 'no such endpoint'));
      const missing = await gw.inject({ method: 'GET', url: `/webhooks/${DELIVERY}`, auth });
      expect(missing.statusCode).toBe(404);
      expect(problemOf(missing).status).toBe(404);
    });

    it('GET /webhooks/{id} with a malformed id is 400 and never reaches the service', async () => {
      const res = await gw.inject({ method: 'GET', url: '/webhooks/not-a-uuid', auth });
      expect(res.statusCode).toBe(400);
      expect(gw.clients.webhooks.getEndpoint).not.toHaveBeenCalled();
    });

    it('DELETE /webhooks/{id} answers the disabled endpoint', async () => {
      gw.clients.webhooks.deleteEndpoint.mockResolvedValueOnce({ endpoint: endpoint({ enabled: false }) });
      const res = await gw.inject({ method: 'DELETE', url: `/webhooks/${WEBHOOK}`, auth });
      expect(res.statusCode).toBe(200);
      expect(res.json()).toEqual({ ...ENDPOINT_JSON, enabled: false });
    });

    it('GET deliveries: a page with the cursor round-tripped as base64url of the service\'s token', async () => {
      const token = 'opaque/token+with=odd:chars';
      gw.clients.webhooks.listDeliveries.mockResolvedValueOnce({ deliveries: [delivery()], nextPageToken: token });
      const first = await gw.inject({ method: 'GET', url: `/webhooks/${WEBHOOK}/deliveries?limit=1`, auth });
      expect(first.statusCode).toBe(200);
      const page = first.json<{ items: unknown[]; nextCursor: string }>();
      expect(page.items).toEqual([
        {
          id: DELIVERY,
          webhookId: WEBHOOK,
          eventId: 'evt-1',
          eventType: 'transfer_in',
          accountId: ALICE,
          status: 'pending',
          attempts: 2,
          lastStatusCode: 500,
          lastError: 'HTTP 500',
          createdAt: CREATED_AT.toISOString(),
          nextAttemptAt: new Date(CREATED_AT.getTime() + 60_000).toISOString(),
          secretVersions: [2, 1],
        },
      ]);
      expect(gw.clients.webhooks.listDeliveries.mock.calls[0]![0]).toEqual({ endpointId: WEBHOOK, pageSize: 1, pageToken: '' });
      gw.clients.webhooks.listDeliveries.mockResolvedValueOnce({ deliveries: [], nextPageToken: '' });
      const second = await gw.inject({ method: 'GET', url: `/webhooks/${WEBHOOK}/deliveries?cursor=${page.nextCursor}`, auth });
      expect(second.json()).toEqual({ items: [], nextCursor: null });
      expect(gw.clients.webhooks.listDeliveries.mock.calls[1]![0]).toEqual({ endpointId: WEBHOOK, pageSize: 20, pageToken: token });
    });

    it('a delivery without an HTTP answer has no lastStatusCode; a delivered one has deliveredAt', async () => {
      gw.clients.webhooks.listDeliveries.mockResolvedValueOnce({
        deliveries: [
          delivery({ lastStatusCode: 0, lastError: 'timeout' }),
          delivery({ status: DeliveryStatus.DELIVERY_STATUS_SUCCEEDED, lastStatusCode: 204, lastError: '', nextAttemptAt: undefined, deliveredAt: CREATED_AT }),
        ],
        nextPageToken: '',
      });
      const res = await gw.inject({ method: 'GET', url: `/webhooks/${WEBHOOK}/deliveries`, auth });
      const [failing, delivered] = res.json<{ items: Record<string, unknown>[] }>().items;
      expect(failing).not.toHaveProperty('lastStatusCode');
      expect(failing).toMatchObject({ lastError: 'timeout', status: 'pending' });
      expect(delivered).toMatchObject({ status: 'succeeded', lastStatusCode: 204, deliveredAt: CREATED_AT.toISOString() });
      expect(delivered).not.toHaveProperty('nextAttemptAt');
    });

    it('limit above 100 is 400', async () => {
      const res = await gw.inject({ method: 'GET', url: `/webhooks/${WEBHOOK}/deliveries?limit=101`, auth });
      expect(res.statusCode).toBe(400);
    });

    it('POST redeliver is 202 with the delivery queued again', async () => {
      gw.clients.webhooks.redeliver.mockResolvedValueOnce({ delivery: delivery({ status: DeliveryStatus.DELIVERY_STATUS_PENDING, attempts: 3 }) });
      const res = await gw.inject({ method: 'POST', url: `/webhooks/${WEBHOOK}/deliveries/${DELIVERY}/redeliver`, auth });
      expect(res.statusCode).toBe(202);
      expect(res.json()).toMatchObject({ id: DELIVERY, status: 'pending', attempts: 3 });
      expect(gw.clients.webhooks.redeliver.mock.calls[0]![0]).toEqual({ endpointId: WEBHOOK, deliveryId: DELIVERY });
    });

    it('a delivery status the contract does not know is a 500, never passed on', async () => {
      gw.clients.webhooks.redeliver.mockResolvedValueOnce({ delivery: delivery({ status: DeliveryStatus.DELIVERY_STATUS_UNSPECIFIED }) });
      const res = await gw.inject({ method: 'POST', url: `/webhooks/${WEBHOOK}/deliveries/${DELIVERY}/redeliver`, auth });
      expect(res.statusCode).toBe(500);
    });
  });
});
