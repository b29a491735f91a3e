// Signing-secret recovery and rotation on real PostgreSQL and Kafka: a
// registration retried with its key answers the same secret and never a
// second endpoint; a rotation signs with both secrets (new first) during its
// grace period, then with the new one only; concurrent rotations each get
// their own version and no returned secret is lost; the delivery log shows
// which versions signed.
import { randomUUID } from 'node:crypto';
import { status as Status } from '@grpc/grpc-js';
import { DeliveryStatus, type CreateEndpointResponse, type Delivery, type RotateSecretResponse } from '@wallet/contracts/webhook';
import { callUnary, parseGrpcError } from '@wallet/platform';
import { waitFor } from '@wallet/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verify } from '../../src/domain/signature.js';
import { startHarness, transferEvent, type Harness } from '../support/harness.js';
import { startReceiver, type Received, type Receiver } from '../support/receiver.js';

const TIMEOUT_MS = 10_000;
const DELIVERY_WAIT_MS = 60_000;
let h: Harness;

beforeAll(async () => {
  h = await startHarness();
});

afterAll(async () => {
  await h?.close();
});

async function as(subject: string, roles?: readonly string[]) {
  return { authorization: await h.issuer.bearer(subject, roles) };
}

async function register(subject: string, url: string, key = randomUUID()): Promise<CreateEndpointResponse> {
  return callUnary(h.client, h.client.createEndpoint, { url, events: ['transfer_out'], idempotencyKey: key }, { timeoutMs: TIMEOUT_MS, headers: await as(subject) });
}

async function rotate(subject: string, endpointId: string, options: { key?: string; graceSeconds?: number; roles?: readonly string[] } = {}): Promise<RotateSecretResponse> {
  const request = { endpointId, idempotencyKey: options.key ?? randomUUID(), gracePeriodSeconds: options.graceSeconds };
  return callUnary(h.client, h.client.rotateSecret, request, { timeoutMs: TIMEOUT_MS, headers: await as(subject, options.roles) });
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

async function deliveries(subject: string, endpointId: string): Promise<Delivery[]> {
  const page = await callUnary(h.client, h.client.listDeliveries, { endpointId, pageSize: 100, pageToken: '' }, { timeoutMs: TIMEOUT_MS, headers: await as(subject) });
  return page.deliveries;
}

/** Whether the delivery verifies with this secret (the receiver's own check, Standard Webhooks). */
function verifiesWith(secret: string, got: Received): boolean {
  const headers = { 'webhook-id': got.id, 'webhook-timestamp': got.timestamp, 'webhook-signature': got.signature };
  return verify(secret, headers, got.body, Math.floor(Date.now() / 1000));
}

async function subscriber(): Promise<{ user: string; accountId: string; receiver: Receiver; endpointId: string; secret: string }> {
  const user = `user-${randomUUID()}`;
  const accountId = randomUUID();
  h.owners.set(accountId, user);
  const receiver = await startReceiver();
  const created = await register(user, receiver.url);
  return { user, accountId, receiver, endpointId: created.endpoint!.id, secret: created.secret };
}

/** Publishes one event of the account and answers its delivery as received. */
async function deliverOne(s: { accountId: string; receiver: Receiver }): Promise<Received> {
  const event = transferEvent(s.accountId);
  await h.publish([event]);
  return waitFor(() => s.receiver.received.find((r) => r.event.eventId === event.eventId), { timeoutMs: DELIVERY_WAIT_MS, what: 'the delivery' });
}

describe('a lost registration answer', () => {
  it('concurrent retries with one key register one endpoint and all answer the same secret', async () => {
    const user = `user-${randomUUID()}`;
    const key = randomUUID();
    const answers = await Promise.all(Array.from({ length: 5 }, () => register(user, 'http://127.0.0.1:9/same', key)));
    expect(new Set(answers.map((a) => a.endpoint!.id)).size).toBe(1);
    expect(new Set(answers.map((a) => a.secret)).size).toBe(1);
    expect(answers[0]!.secret).toMatch(/^whsec_/);
    expect(answers.filter((a) => !a.replayed)).toHaveLength(1);
    const listed = await callUnary(h.client, h.client.listEndpoints, { ownerId: '' }, { timeoutMs: TIMEOUT_MS, headers: await as(user) });
    expect(listed.endpoints).toHaveLength(1);
  });

  it('the replayed secret is the one deliveries are signed with', async () => {
    const user = `user-${randomUUID()}`;
    const accountId = randomUUID();
    h.owners.set(accountId, user);
    const receiver = await startReceiver();
    const key = randomUUID();
    await register(user, receiver.url, key); // its answer is "lost"
    const replay = await register(user, receiver.url, key);
    expect(replay.replayed).toBe(true);
    const got = await deliverOne({ accountId, receiver });
    expect(verifiesWith(replay.secret, got)).toBe(true);
    await receiver.close();
  });
});

describe('rotation', { timeout: 150_000 }, () => {
  it('during the grace period a delivery carries both signatures, new first, each verifying; the log shows versions [2, 1]', async () => {
    const s = await subscriber();
    const rotated = await rotate(s.user, s.endpointId, { graceSeconds: 3_600 });
    expect(rotated).toMatchObject({ secretVersion: 2, replayed: false });
    expect(rotated.secret).toMatch(/^whsec_/);
    expect(rotated.secret).not.toBe(s.secret);
    expect(rotated.endpoint).toMatchObject({ secretVersion: 2 });
    const graceEndMs = rotated.endpoint!.previousSecretExpiresAt!.getTime();
    expect(Math.abs(graceEndMs - (rotated.createdAt!.getTime() + 3_600_000))).toBeLessThan(5_000);

    const got = await deliverOne(s);
    const signatures = got.signature.split(' ');
    expect(signatures).toHaveLength(2);
    expect(verifiesWith(rotated.secret, { ...got, signature: signatures[0]! })).toBe(true);
    expect(verifiesWith(s.secret, { ...got, signature: signatures[1]! })).toBe(true);
    expect(verifiesWith(s.secret, got)).toBe(true);
    expect(verifiesWith(rotated.secret, got)).toBe(true);
    const [row] = await waitFor(async () => {
      const rows = await deliveries(s.user, s.endpointId);
      return rows[0]?.status === DeliveryStatus.DELIVERY_STATUS_SUCCEEDED ? rows : undefined;
    }, { timeoutMs: DELIVERY_WAIT_MS });
    expect(row!.secretVersions).toEqual([2, 1]);
    await s.receiver.close();
  });

  it('after the grace period only the new secret signs', async () => {
    const s = await subscriber();
    const rotated = await rotate(s.user, s.endpointId, { graceSeconds: 1 });
    const graceEndMs = rotated.endpoint!.previousSecretExpiresAt!.getTime();
    await waitFor(() => Date.now() > graceEndMs + 50, { timeoutMs: 10_000, what: 'the grace period to end' });
    const got = await deliverOne(s);
    expect(got.signature.split(' ')).toHaveLength(1);
    expect(verifiesWith(rotated.secret, got)).toBe(true);
    expect(verifiesWith(s.secret, got)).toBe(false);
    const endpoint = await callUnary(h.client, h.client.getEndpoint, { endpointId: s.endpointId }, { timeoutMs: TIMEOUT_MS, headers: await as(s.user) });
    expect(endpoint.endpoint!.previousSecretExpiresAt).toBeUndefined();
    await s.receiver.close();
  });

  it('a grace period of 0 stops the old secret at once; a replay by key answers the same secret; another grace period with the key is refused', async () => {
    const s = await subscriber();
    const key = randomUUID();
    const rotated = await rotate(s.user, s.endpointId, { key, graceSeconds: 0 });
    expect(rotated.endpoint!.previousSecretExpiresAt).toBeUndefined();
    const replay = await rotate(s.user, s.endpointId, { key, graceSeconds: 0 });
    expect(replay).toMatchObject({ replayed: true, secretVersion: 2, secret: rotated.secret });
    expect(await refusal(rotate(s.user, s.endpointId, { key, graceSeconds: 60 }))).toEqual({ code: Status.FAILED_PRECONDITION, reason: 'IDEMPOTENCY_KEY_REUSED' });
    expect(await refusal(rotate(s.user, s.endpointId, { key }))).toEqual({ code: Status.FAILED_PRECONDITION, reason: 'IDEMPOTENCY_KEY_REUSED' });
    const got = await deliverOne(s);
    expect(verifiesWith(rotated.secret, got)).toBe(true);
    expect(verifiesWith(s.secret, got)).toBe(false);
    await s.receiver.close();
  });

  it('two rotations at once get two sequential versions; both returned secrets still sign, none is lost', async () => {
    const s = await subscriber();
    const [a, b] = await Promise.all([rotate(s.user, s.endpointId), rotate(s.user, s.endpointId)]);
    expect([a!.secretVersion, b!.secretVersion].sort()).toEqual([2, 3]);
    expect(a!.secret).not.toBe(b!.secret);
    const got = await deliverOne(s);
    expect(verifiesWith(a!.secret, got)).toBe(true);
    expect(verifiesWith(b!.secret, got)).toBe(true);
    expect(verifiesWith(s.secret, got)).toBe(false);
    const newest = a!.secretVersion === 3 ? a! : b!;
    expect(got.signature.split(' ')[0]).toBe(got.signature.split(' ').find((sig) => verifiesWith(newest.secret, { ...got, signature: sig })));
    await s.receiver.close();
  });

  it('concurrent rotations with one key rotate once and all answer the same version and secret', async () => {
    const s = await subscriber();
    const key = randomUUID();
    const answers = await Promise.all(Array.from({ length: 5 }, () => rotate(s.user, s.endpointId, { key })));
    expect(new Set(answers.map((a) => a.secretVersion))).toEqual(new Set([2]));
    expect(new Set(answers.map((a) => a.secret)).size).toBe(1);
    expect(answers.filter((a) => !a.replayed)).toHaveLength(1);
    const endpoint = await callUnary(h.client, h.client.getEndpoint, { endpointId: s.endpointId }, { timeoutMs: TIMEOUT_MS, headers: await as(s.user) });
    expect(endpoint.endpoint!.secretVersion).toBe(2);
    await s.receiver.close();
  });

  it('authorizes: support may not rotate, another customer sees NOT_FOUND, an admin may; a deleted endpoint is NOT_FOUND; a bad grace period is INVALID_ARGUMENT', async () => {
    const owner = `user-${randomUUID()}`;
    const { endpoint } = await register(owner, 'http://127.0.0.1:9/auth');
    const id = endpoint!.id;
    expect(await refusal(rotate('support-1', id, { roles: ['support'] }))).toEqual({ code: Status.PERMISSION_DENIED, reason: 'ROLE_FORBIDDEN' });
    expect(await refusal(rotate(`user-${randomUUID()}`, id))).toEqual({ code: Status.NOT_FOUND, reason: 'NOT_FOUND' });
    expect(await refusal(rotate(owner, id, { graceSeconds: -1 }))).toEqual({ code: Status.INVALID_ARGUMENT, reason: 'INVALID_ARGUMENT' });
    expect(await refusal(rotate(owner, id, { graceSeconds: 604_801 }))).toEqual({ code: Status.INVALID_ARGUMENT, reason: 'INVALID_ARGUMENT' });
    expect((await rotate(`admin-${randomUUID()}`, id, { roles: ['admin'] })).secretVersion).toBe(2);
    await callUnary(h.client, h.client.deleteEndpoint, { endpointId: id }, { timeoutMs: TIMEOUT_MS, headers: await as(owner) });
    expect(await refusal(rotate(owner, id))).toEqual({ code: Status.NOT_FOUND, reason: 'NOT_FOUND' });
  });
});
