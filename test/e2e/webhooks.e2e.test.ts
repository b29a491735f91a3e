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
    // machine. A lost answer (503/504) cannot be replayed for its secret (a replay carries none),
    // so a client registers again under a new key; each attempt gets its own receiver path, and
    // only deliveries to the registered one count.
    let attempt = 0;
    const registered = await waitFor(
      async () => {
        attempt += 1;
        const res = await as(system, ALICE, 'POST', '/webhooks', {
          body: { url: `${receiver.url}/${attempt}`, events: ['transfer_out', 'transfer_in'] },
          headers: { 'Idempotency-Key': randomUUID() },
        });
        return res.status >= 500 ? undefined : res;
      },
      { timeoutMs: 90_000, what: 'the endpoint registered' },
    );
    expect(registered.status, JSON.stringify(registered.body)).toBe(201);
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
});
