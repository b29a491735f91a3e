// The webhook-service end to end in-process, on real PostgreSQL and Kafka:
// registration (with SSRF refusals), fan-out from wallet.operations, signed
// deliveries to a loopback receiver, retries with backoff, per-account order,
// the delivery log, redelivery and the role rules.
import { randomUUID } from 'node:crypto';
import { status as Status } from '@grpc/grpc-js';
import { DeliveryStatus, type CreateEndpointResponse, type Delivery } from '@wallet/contracts/webhook';
import { WebhookServiceClient } from '@wallet/contracts/webhook';
import { callUnary, createGrpcClient, parseGrpcError } from '@wallet/platform';
import { waitFor } from '@wallet/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LookupAddress } from 'node:dns';
import { testClientTransport } from '../../../../test/support/pki.js';
import { startHarness, transferEvent, type Harness } from '../support/harness.js';
import { startReceiver, type Receiver } from '../support/receiver.js';

const TIMEOUT_MS = 10_000;
/** Bound of every wait for a delivery: generous, the machine is shared (a deadline, not a sleep). */
const DELIVERY_WAIT_MS = 60_000;
let h: Harness;
/** What the fake DNS answers per host name (others: not found). */
const dns = new Map<string, string>();

beforeAll(async () => {
  h = await startHarness(
    {},
    {
      resolver: async (hostname): Promise<LookupAddress[]> => {
        const address = dns.get(hostname) ?? (hostname === 'localhost' ? '127.0.0.1' : undefined);
        if (!address) throw Object.assign(new Error('not found'), { code: 'ENOTFOUND' });
        return [{ address, family: address.includes(':') ? 6 : 4 }];
      },
    },
  );
});

afterAll(async () => {
  await h?.close();
});

async function as(subject: string, roles?: readonly string[]) {
  return { authorization: await h.issuer.bearer(subject, roles) };
}

async function register(subject: string, url: string, events = ['transfer_out'], roles?: readonly string[], key = randomUUID()): Promise<CreateEndpointResponse> {
  return callUnary(h.client, h.client.createEndpoint, { url, events, idempotencyKey: key }, { timeoutMs: TIMEOUT_MS, headers: await as(subject, roles) });
}

async function refusal(promise: Promise<unknown>): Promise<{ code: number; reason: string | undefined }> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error, 'expected a refusal').toBeDefined();
  const parsed = parseGrpcError(error);
  return { code: parsed.code, reason: parsed.reason };
}

async function deliveries(subject: string, endpointId: string, roles?: readonly string[]): Promise<Delivery[]> {
  const page = await callUnary(h.client, h.client.listDeliveries, { endpointId, pageSize: 100, pageToken: '' }, { timeoutMs: TIMEOUT_MS, headers: await as(subject, roles) });
  return page.deliveries;
}

/** A customer owning a fresh account, with a receiver registered for it. */
async function subscriber(events = ['transfer_out']): Promise<{ user: string; accountId: string; receiver: Receiver; endpointId: string }> {
  const user = `user-${randomUUID()}`;
  const accountId = randomUUID();
  h.owners.set(accountId, user);
  const receiver = await startReceiver();
  const created = await register(user, receiver.url, events);
  receiver.secret = created.secret;
  return { user, accountId, receiver, endpointId: created.endpoint!.id };
}

describe('registration', () => {
  it('a replay with the key answers the same endpoint and the same secret (a lost answer is recovered); another request with the key is refused', async () => {
    const user = `user-${randomUUID()}`;
    const key = randomUUID();
    const first = await register(user, 'http://127.0.0.1:9/a', ['transfer_out', 'topup'], undefined, key);
    expect(first.secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(first.endpoint).toMatchObject({ ownerId: user, enabled: true, events: ['topup', 'transfer_out'], secretVersion: 1 });
    const replay = await register(user, 'http://127.0.0.1:9/a', ['topup', 'transfer_out'], undefined, key);
    expect(replay).toMatchObject({ replayed: true, secret: first.secret });
    expect(replay.endpoint!.id).toBe(first.endpoint!.id);
    expect(await refusal(register(user, 'http://127.0.0.1:9/b', ['topup'], undefined, key))).toEqual({ code: Status.FAILED_PRECONDITION, reason: 'IDEMPOTENCY_KEY_REUSED' });
  });

  it.each([
    ['a private address', 'https://10.0.0.1/hook'],
    ['the cloud metadata address', 'http://169.254.169.254/latest/meta-data'],
    ['an IPv4-mapped private address', 'https://[::ffff:10.0.0.1]/hook'],
    ['a DNS name resolving to a private address', 'https://internal.example/hook'],
    ['a name that does not resolve', 'https://nowhere.example/hook'],
    ['plain http to a public host', 'http://public.example/hook'],
    ['credentials in the URL', 'https://user:pw@public.example/hook'],
  ])('refuses %s (URL_NOT_ALLOWED) and stores nothing', async (_what, url) => {
    dns.set('internal.example', '10.1.2.3');
    dns.set('public.example', '93.184.216.34');
    const user = `user-${randomUUID()}`;
    expect(await refusal(register(user, url))).toEqual({ code: Status.INVALID_ARGUMENT, reason: 'URL_NOT_ALLOWED' });
    const listed = await callUnary(h.client, h.client.listEndpoints, { ownerId: '' }, { timeoutMs: TIMEOUT_MS, headers: await as(user) });
    expect(listed.endpoints).toEqual([]);
  });

  it('refuses a calling service other than the api-gateway (mTLS caller table) before anything runs', async () => {
    const client = createGrpcClient(WebhookServiceClient, `127.0.0.1:${h.service.grpc.port}`, await testClientTransport('webhook-service', 'bank-card-adapter'));
    try {
      const call = callUnary(client, client.listEndpoints, { ownerId: '' }, { timeoutMs: TIMEOUT_MS, headers: await as(`user-${randomUUID()}`) });
      expect((await refusal(call)).code).toBe(Status.PERMISSION_DENIED);
    } finally {
      client.close();
    }
  });

  it('refuses unknown event types and an empty list, naming the field', async () => {
    const user = `user-${randomUUID()}`;
    expect(await refusal(register(user, 'http://127.0.0.1:9/x', ['payout']))).toEqual({ code: Status.INVALID_ARGUMENT, reason: 'INVALID_ARGUMENT' });
    expect(await refusal(register(user, 'http://127.0.0.1:9/x', []))).toEqual({ code: Status.INVALID_ARGUMENT, reason: 'INVALID_ARGUMENT' });
  });

  it('authorizes: no token is UNAUTHENTICATED, support may not register, others see NOT_FOUND', async () => {
    const noToken = callUnary(h.client, h.client.listEndpoints, { ownerId: '' }, { timeoutMs: TIMEOUT_MS });
    expect(await refusal(noToken)).toEqual({ code: Status.UNAUTHENTICATED, reason: 'CALLER_UNAUTHENTICATED' });
    expect(await refusal(register(`support-${randomUUID()}`, 'http://127.0.0.1:9/s', ['topup'], ['support']))).toEqual({ code: Status.PERMISSION_DENIED, reason: 'ROLE_FORBIDDEN' });
    const owner = `user-${randomUUID()}`;
    const { endpoint } = await register(owner, 'http://127.0.0.1:9/o');
    const other = callUnary(h.client, h.client.getEndpoint, { endpointId: endpoint!.id }, { timeoutMs: TIMEOUT_MS, headers: await as(`user-${randomUUID()}`) });
    expect(await refusal(other)).toEqual({ code: Status.NOT_FOUND, reason: 'NOT_FOUND' });
    const bySupport = await callUnary(h.client, h.client.getEndpoint, { endpointId: endpoint!.id }, { timeoutMs: TIMEOUT_MS, headers: await as('support-1', ['support']) });
    expect(bySupport.endpoint!.id).toBe(endpoint!.id);
  });
});

describe('deliveries', { timeout: 150_000 }, () => {
  it('delivers an event of the owner’s account once, signed (Standard Webhooks), and logs it as succeeded', async () => {
    const s = await subscriber();
    const event = transferEvent(s.accountId);
    await h.publish([event, event]); // Kafka may deliver twice: one delivery only
    await waitFor(() => s.receiver.received.length >= 1, { timeoutMs: DELIVERY_WAIT_MS, what: 'the delivery' });
    const [got] = s.receiver.received;
    expect(got!.signatureValid).toBe(true);
    expect(JSON.parse(got!.body)).toEqual(event);
    const log = await waitFor(async () => {
      const rows = await deliveries(s.user, s.endpointId);
      return rows[0]?.status === DeliveryStatus.DELIVERY_STATUS_SUCCEEDED ? rows : undefined;
    }, { timeoutMs: DELIVERY_WAIT_MS });
    expect(log).toHaveLength(1);
    expect(log[0]).toMatchObject({ eventId: event.eventId, eventType: 'transfer_out', accountId: s.accountId, attempts: 1, lastStatusCode: 200, id: got!.id });
    expect(s.receiver.received).toHaveLength(1);
    await s.receiver.close();
  });

  it('does not deliver events of other people’s accounts or of unsubscribed types; an admin endpoint gets every account', async () => {
    const s = await subscriber(['topup']);
    const admin = `admin-${randomUUID()}`;
    const adminReceiver = await startReceiver();
    const adminEndpoint = await register(admin, adminReceiver.url, ['transfer_out'], ['admin']);
    adminReceiver.secret = adminEndpoint.secret;
    const stranger = randomUUID();
    h.owners.set(stranger, `user-${randomUUID()}`);
    await h.publish([transferEvent(s.accountId), transferEvent(stranger), transferEvent(s.accountId, { eventType: 'topup' })]);
    await waitFor(() => s.receiver.received.length >= 1 && adminReceiver.received.filter((r) => [s.accountId, stranger].includes(r.event.accountId)).length >= 2, {
      timeoutMs: DELIVERY_WAIT_MS,
      what: 'the deliveries',
    });
    expect(s.receiver.received.map((r) => r.event.eventType)).toEqual(['topup']);
    expect(adminReceiver.received.every((r) => r.signatureValid)).toBe(true);
    await s.receiver.close();
    await adminReceiver.close();
  });

  it('retries a receiver that fails twice with backoff, then succeeds (3 attempts, same webhook-id)', async () => {
    const s = await subscriber();
    s.receiver.script = [500, 503];
    await h.publish([transferEvent(s.accountId)]);
    await waitFor(() => s.receiver.received.length >= 3, { timeoutMs: DELIVERY_WAIT_MS, what: 'three attempts' });
    expect(s.receiver.received.map((r) => r.status)).toEqual([500, 503, 200]);
    expect(new Set(s.receiver.received.map((r) => r.id)).size).toBe(1);
    const [row] = await waitFor(async () => {
      const rows = await deliveries(s.user, s.endpointId);
      return rows[0]?.status === DeliveryStatus.DELIVERY_STATUS_SUCCEEDED ? rows : undefined;
    }, { timeoutMs: DELIVERY_WAIT_MS });
    expect(row).toMatchObject({ attempts: 3, lastStatusCode: 200, lastError: '' });
    await s.receiver.close();
  });

  it('keeps per-account order: a failing delivery holds back later ones of its account, not other accounts', async () => {
    const s = await subscriber();
    const other = randomUUID();
    h.owners.set(other, s.user);
    const first = transferEvent(s.accountId, { amount: '1.00' });
    // Its own failures: the other account's delivery may go out while it waits for a retry.
    s.receiver.failFirst.set(first.eventId, 2);
    await h.publish([first]);
    await waitFor(() => s.receiver.received.length >= 1, { timeoutMs: DELIVERY_WAIT_MS, what: 'the first attempt' });
    const later = [transferEvent(s.accountId, { amount: '2.00' }), transferEvent(s.accountId, { amount: '3.00' })];
    const otherEvent = transferEvent(other);
    await h.publish([...later, otherEvent]);
    await waitFor(() => s.receiver.received.filter((r) => r.status === 200).length >= 4, { timeoutMs: DELIVERY_WAIT_MS, what: 'all deliveries' });
    const ofAccount = s.receiver.received.filter((r) => r.event.accountId === s.accountId);
    expect(ofAccount.map((r) => [r.event.eventId, r.status])).toEqual([
      [first.eventId, 500],
      [first.eventId, 500],
      [first.eventId, 200],
      [later[0]!.eventId, 200],
      [later[1]!.eventId, 200],
    ]);
    await s.receiver.close();
  });

  it('refuses at delivery time a host whose DNS now points to a private address (rebinding), sending nothing', async () => {
    dns.set('rebind.example', '93.184.216.34');
    const user = `user-${randomUUID()}`;
    const accountId = randomUUID();
    h.owners.set(accountId, user);
    const { endpoint } = await register(user, 'https://rebind.example/hook');
    dns.set('rebind.example', '10.9.9.9');
    await h.publish([transferEvent(accountId)]);
    const [row] = await waitFor(async () => {
      const rows = await deliveries(user, endpoint!.id);
      return rows[0] && rows[0].attempts >= 1 && rows[0].lastError !== '' ? rows : undefined;
    }, { timeoutMs: DELIVERY_WAIT_MS, what: 'a refused attempt' });
    expect(row!.lastError).toMatch(/not allowed/);
    expect(row!.lastStatusCode).toBe(0);
  });

  it('redelivers a delivered event on request (same webhook-id), and pages the log', async () => {
    const s = await subscriber();
    await h.publish([transferEvent(s.accountId), transferEvent(s.accountId), transferEvent(s.accountId)]);
    await waitFor(() => s.receiver.received.length >= 3, { timeoutMs: DELIVERY_WAIT_MS, what: 'three deliveries' });
    const headers = await as(s.user);
    const page1 = await callUnary(h.client, h.client.listDeliveries, { endpointId: s.endpointId, pageSize: 2, pageToken: '' }, { timeoutMs: TIMEOUT_MS, headers });
    expect(page1.deliveries).toHaveLength(2);
    const page2 = await callUnary(h.client, h.client.listDeliveries, { endpointId: s.endpointId, pageSize: 2, pageToken: page1.nextPageToken }, { timeoutMs: TIMEOUT_MS, headers });
    expect(page2.deliveries).toHaveLength(1);
    expect(page2.nextPageToken).toBe('');
    const target = page2.deliveries[0]!;
    await waitFor(async () => (await deliveries(s.user, s.endpointId)).every((d) => d.status === DeliveryStatus.DELIVERY_STATUS_SUCCEEDED), { timeoutMs: DELIVERY_WAIT_MS });
    const again = await callUnary(h.client, h.client.redeliver, { endpointId: s.endpointId, deliveryId: target.id }, { timeoutMs: TIMEOUT_MS, headers });
    expect(again.delivery!.status).toBe(DeliveryStatus.DELIVERY_STATUS_PENDING);
    await waitFor(() => s.receiver.received.filter((r) => r.id === target.id).length >= 2, { timeoutMs: DELIVERY_WAIT_MS, what: 'the redelivery' });
    const bad = callUnary(h.client, h.client.listDeliveries, { endpointId: s.endpointId, pageSize: 2, pageToken: 'garbage' }, { timeoutMs: TIMEOUT_MS, headers });
    expect(await refusal(bad)).toEqual({ code: Status.INVALID_ARGUMENT, reason: 'INVALID_ARGUMENT' });
    await s.receiver.close();
  });

  it('stops pending deliveries when the endpoint is deleted', async () => {
    const s = await subscriber();
    s.receiver.script = Array.from({ length: 1_000 }, () => 500);
    await h.publish([transferEvent(s.accountId)]);
    await waitFor(() => s.receiver.received.length >= 1, { timeoutMs: DELIVERY_WAIT_MS, what: 'a failing attempt' });
    const deleted = await callUnary(h.client, h.client.deleteEndpoint, { endpointId: s.endpointId }, { timeoutMs: TIMEOUT_MS, headers: await as(s.user) });
    expect(deleted.endpoint!.enabled).toBe(false);
    const rows = await waitFor(async () => {
      const list = await deliveries(s.user, s.endpointId);
      return list[0]?.status === DeliveryStatus.DELIVERY_STATUS_FAILED ? list : undefined;
    }, { timeoutMs: DELIVERY_WAIT_MS });
    expect(rows[0]!.lastError).toMatch(/endpoint deleted|HTTP 500/);
    await s.receiver.close();
  });
});
