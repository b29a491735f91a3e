// End to end for webhooks, through the whole native system over REST: alice
// registers a loopback receiver, pays bob, and the webhook-service (its own
// consumer of wallet.operations, not the request path) POSTs the event to the
// receiver, signed per Standard Webhooks. The signature is checked here from
// the spec alone (HMAC-SHA256 over `id.timestamp.body` with the secret's
// bytes), not with the service's own code.
import { createHmac, randomUUID, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { waitFor } from '@wallet/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACCOUNT_A, ACCOUNT_B, ALICE, BOB, http, startSystem, type Credentials, type RunningSystem } from './harness.js';

interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/** A loopback receiver that answers 204 to everything and keeps what it got (bounded). */
async function startReceiver(): Promise<{ server: Server; url: string; received: Received[] }> {
  const received: Received[] = [];
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      if (received.length < 1_000) received.push({ path: request.url ?? '', headers: request.headers, body: Buffer.concat(chunks).toString('utf8') });
      response.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/wallet`, received };
}

/** Standard Webhooks: "v1,<base64 HMAC-SHA256(key, id.timestamp.body)>", key = base64 after "whsec_". */
function signatureValid(secret: string, delivery: Received): boolean {
  const id = String(delivery.headers['webhook-id'] ?? '');
  const timestamp = String(delivery.headers['webhook-timestamp'] ?? '');
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
  const expected = Buffer.from(`v1,${createHmac('sha256', key).update(`${id}.${timestamp}.${delivery.body}`).digest('base64')}`);
  return String(delivery.headers['webhook-signature'] ?? '')
    .split(' ')
    .some((candidate) => candidate.length === expected.length && timingSafeEqual(Buffer.from(candidate), expected));
}

async function as(system: RunningSystem, user: Credentials, method: string, path: string, options: Parameters<typeof http>[3] = {}) {
  return http(system.baseUrl, method, path, { ...options, headers: { ...(await system.as(user)), ...options.headers } });
}

describe('webhooks through the whole system', () => {
  let system: RunningSystem;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  beforeAll(async () => {
    receiver = await startReceiver();
    system = await startSystem({
      webhooks: true,
      env: { webhooks: { WEBHOOK_KAFKA_GROUP_ID: `webhooks-${randomUUID()}`, WEBHOOK_DISPATCH_INTERVAL_MS: '200' } },
    });
  }, 300_000);
  afterAll(async () => {
    await system?.stop();
    await new Promise((resolve) => receiver?.server.close(resolve));
  });

  it('a transfer reaches the owner\'s registered receiver, signed; the delivery log shows it; redelivery sends it again with the same id', async () => {
    // The first call pays the webhook-service's first token-key fetch and handshakes on a busy
    // machine. A lost answer (503/504) is retried with the same key: the replay carries the
    // same secret, and the key never registers a second endpoint.
    const key = randomUUID();
    const register = () =>
      as(system, ALICE, 'POST', '/webhooks', { body: { url: `${receiver.url}/1`, events: ['transfer_out', 'transfer_in'] }, headers: { 'Idempotency-Key': key } });
    const registered = await waitFor(
      async () => {
        const res = await register();
        return res.status >= 500 ? undefined : res;
      },
      { timeoutMs: 90_000, what: 'the endpoint registered' },
    );
    expect(registered.status, JSON.stringify(registered.body)).toBe(201);
    const replayed = await register();
    expect(replayed.status).toBe(201);
    expect(replayed.headers.get('idempotent-replayed')).toBe('true');
    expect(replayed.body).toEqual(registered.body);
    const path = new URL(registered.body.url as string).pathname;
    const mine = () => receiver.received.filter((r) => r.path === path);
    const secret = registered.body.secret as string;
    expect(secret).toMatch(/^whsec_/);
    const webhookId = registered.body.id as string;

    const transfer = await as(system, ALICE, 'POST', `/accounts/${ACCOUNT_A}/transfers`, {
      body: { recipientAccountId: ACCOUNT_B, amount: '3.21', description: 'webhook e2e' },
      headers: { 'Idempotency-Key': randomUUID() },
    });
    expect(transfer.status).toBe(201);
    const transferId = transfer.body.id as string;

    const delivered = await waitFor(
      () => mine().find((r) => JSON.parse(r.body).transferId === transferId && JSON.parse(r.body).eventType === 'transfer_out'),
      { timeoutMs: 60_000, what: 'the signed transfer_out delivery' },
    );
    expect(delivered.headers['content-type']).toMatch(/^application\/json/);
    expect(signatureValid(secret, delivered)).toBe(true);
    expect(signatureValid(`whsec_${Buffer.alloc(32).toString('base64')}`, delivered)).toBe(false);
    expect(Math.abs(Number(delivered.headers['webhook-timestamp']) - Date.now() / 1000)).toBeLessThan(300);
    expect(JSON.parse(delivered.body)).toMatchObject({ eventType: 'transfer_out', accountId: ACCOUNT_A, amount: '3.21', transferId });
    // Alice's endpoint gets alice's account's events only: bob's transfer_in is bob's.
    expect(mine().every((r) => JSON.parse(r.body).accountId === ACCOUNT_A)).toBe(true);

    const log = await waitFor(
      async () => {
        const res = await as(system, ALICE, 'GET', `/webhooks/${webhookId}/deliveries`);
        const items = res.body.items as { id: string; eventType: string; status: string; attempts: number; lastStatusCode?: number }[];
        return items.find((d) => d.eventType === 'transfer_out' && d.status === 'succeeded');
      },
      { timeoutMs: 30_000, what: 'the delivery logged as succeeded' },
    );
    expect(log.lastStatusCode).toBe(204);

    const before = mine().length;
    const again = await as(system, ALICE, 'POST', `/webhooks/${webhookId}/deliveries/${log.id}/redeliver`);
    expect(again.status, JSON.stringify(again.body)).toBe(202);
    const resent = await waitFor(() => mine().slice(before).find((r) => r.headers['webhook-id'] === delivered.headers['webhook-id']), {
      timeoutMs: 60_000,
      what: 'the redelivery',
    });
    expect(resent.body).toBe(delivered.body);
    expect(signatureValid(secret, resent)).toBe(true);

    // Bob cannot see alice's endpoint (the same answer as for none).
    expect((await as(system, BOB, 'GET', `/webhooks/${webhookId}`)).status).toBe(404);
  }, 180_000);

  it('a rotated secret: replayable by key, and during the grace period a delivery verifies with the old and the new secret; the log shows versions [2, 1]', async () => {
    const registered = await waitFor(
      async () => {
        const res = await as(system, ALICE, 'POST', '/webhooks', {
          body: { url: `${receiver.url}/rotation`, events: ['transfer_out'] },
          headers: { 'Idempotency-Key': 'e2e-rotation-endpoint' },
        });
        return res.status >= 500 ? undefined : res;
      },
      { timeoutMs: 90_000, what: 'the endpoint registered' },
    );
    expect(registered.status, JSON.stringify(registered.body)).toBe(201);
    const webhookId = registered.body.id as string;
    const oldSecret = registered.body.secret as string;
    const rotate = () => as(system, ALICE, 'POST', `/webhooks/${webhookId}/secret/rotate`, { body: {}, headers: { 'Idempotency-Key': 'e2e-rotate-1' } });
    const rotated = await rotate();
    expect(rotated.status, JSON.stringify(rotated.body)).toBe(200);
    expect(rotated.headers.get('cache-control')).toBe('no-store');
    expect(rotated.body).toMatchObject({ webhookId, secretVersion: 2 });
    const newSecret = rotated.body.secret as string;
    expect(newSecret).toMatch(/^whsec_/);
    expect(newSecret).not.toBe(oldSecret);
    // The default grace period: 24 hours.
    const graceEndMs = Date.parse(rotated.body.previousSecretExpiresAt as string) - Date.parse(rotated.body.createdAt as string);
    expect(Math.abs(graceEndMs - 86_400_000)).toBeLessThan(5_000);
    const again = await rotate();
    expect(again.status).toBe(200);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.body.secret).toBe(newSecret);
    expect((await as(system, BOB, 'POST', `/webhooks/${webhookId}/secret/rotate`, { body: {}, headers: { 'Idempotency-Key': 'bob' } })).status).toBe(404);
    const shown = await as(system, ALICE, 'GET', `/webhooks/${webhookId}`);
    expect(shown.body).toMatchObject({ secretVersion: 2, previousSecretExpiresAt: rotated.body.previousSecretExpiresAt });
    expect(shown.body).not.toHaveProperty('secret');

    const transfer = await as(system, ALICE, 'POST', `/accounts/${ACCOUNT_A}/transfers`, {
      body: { recipientAccountId: ACCOUNT_B, amount: '1.23', description: 'webhook rotation e2e' },
      headers: { 'Idempotency-Key': randomUUID() },
    });
    expect(transfer.status).toBe(201);
    const delivered = await waitFor(
      () => receiver.received.find((r) => r.path === '/hooks/wallet/rotation' && JSON.parse(r.body).transferId === transfer.body.id),
      { timeoutMs: 60_000, what: 'the delivery signed with both secrets' },
    );
    expect(String(delivered.headers['webhook-signature']).split(' ')).toHaveLength(2);
    expect(signatureValid(newSecret, delivered)).toBe(true);
    expect(signatureValid(oldSecret, delivered)).toBe(true);
    const log = await waitFor(
      async () => {
        const res = await as(system, ALICE, 'GET', `/webhooks/${webhookId}/deliveries`);
        const items = res.body.items as { status: string; secretVersions: number[] }[];
        return items.find((d) => d.status === 'succeeded');
      },
      { timeoutMs: 30_000, what: 'the delivery logged as succeeded' },
    );
    expect(log.secretVersions).toEqual([2, 1]);
  }, 180_000);
});
