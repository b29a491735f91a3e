// End to end, over REST only: the real api-gateway, identity-service and
// bank-service processes on a real PostgreSQL, each call as the account's owner
// (alice owns ACCOUNT_A, bob ACCOUNT_B). Every response is checked against
// openapi.yaml by http().
import { randomUUID } from 'node:crypto';
import { parseAmountMinor } from '@wallet/platform';
import { waitFor } from '@wallet/testkit';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACCOUNT_A, ACCOUNT_B, ALICE, BOB, http, startSystem, type Credentials, type RunningSystem } from './harness.js';

const UNKNOWN = '00000000-0000-4000-8000-00000000beef';

describe('transfers and balances over REST', () => {
  let system: RunningSystem;
  let db: pg.Pool;
  /** Bob's second account, in EUR (the currency mismatch case). */
  let eurAccount: string;
  /** The owner of a seed account (alice for anything else: an unknown account answers 404 to her). */
  const ownerOf = (account: string): Credentials => (account === ACCOUNT_B ? BOB : ALICE);
  const call = async (method: string, path: string, options: Parameters<typeof http>[3] = {}, user: Credentials = ALICE) =>
    http(system.baseUrl, method, path, { ...options, headers: { ...(await system.as(user)), ...options.headers } });
  /** key: null sends no Idempotency-Key header at all. */
  const transfer = (from: string, body: unknown, key: string | null = randomUUID()) =>
    call('POST', `/accounts/${from}/transfers`, { body, headers: key === null ? {} : { 'Idempotency-Key': key } }, ownerOf(from));
  const balanceOf = async (account: string) => (await call('GET', `/accounts/${account}/balance`, {}, ownerOf(account))).body.balance as string;

  beforeAll(async () => {
    system = await startSystem({ env: { gateway: { GATEWAY_GRPC_DEADLINE_MS: '1500' } } });
    db = new pg.Pool({ connectionString: system.db.url, max: 2 });
    // The REST API opens USD accounts only: a second-currency account (bob's) for the mismatch case.
    eurAccount = randomUUID();
    await db.query(`INSERT INTO bank.accounts (id, kind, currency, balance_minor, owner_id) VALUES ($1, 'customer', 'EUR', 0, $2)`, [
      eurAccount,
      BOB.userId,
    ]);
  });
  afterAll(async () => {
    await db?.end();
    await system?.stop();
  });

  it('moves money and answers 201 with the transfer', async () => {
    const res = await transfer(ACCOUNT_A, { recipientAccountId: ACCOUNT_B, amount: '10.50', description: 'Dinner' });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ senderAccountId: ACCOUNT_A, recipientAccountId: ACCOUNT_B, amount: '10.50', currency: 'USD', status: 'completed' });
    expect(res.headers.get('idempotent-replayed')).toBeNull();
    expect(await balanceOf(ACCOUNT_A)).toBe('989.50');
    expect(await balanceOf(ACCOUNT_B)).toBe('510.50');
  });

  it('replays the same key and body with the original answer, and rejects the key with another body (422)', async () => {
    const key = randomUUID();
    const first = await transfer(ACCOUNT_B, { recipientAccountId: ACCOUNT_A, amount: '1.00' }, key);
    const again = await transfer(ACCOUNT_B, { recipientAccountId: ACCOUNT_A, amount: '1.00' }, key);
    expect(first.status).toBe(201);
    expect(again.status).toBe(201);
    expect(again.body).toEqual(first.body);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    const other = await transfer(ACCOUNT_B, { recipientAccountId: ACCOUNT_A, amount: '2.00' }, key);
    expect(other.status).toBe(422);
    expect(other.contentType).toContain('application/problem+json');
  });

  it('answers 409 while the first request with the key is still in flight', async () => {
    const key = randomUUID();
    const holder = await db.connect();
    try {
      // Hold the sender's row so the first request waits inside its transaction.
      await holder.query('BEGIN');
      await holder.query('SELECT 1 FROM bank.accounts WHERE id = $1 FOR UPDATE', [ACCOUNT_B]);
      const first = transfer(ACCOUNT_B, { recipientAccountId: ACCOUNT_A, amount: '0.25' }, key);
      const conflict = await (async () => {
        for (let attempt = 0; attempt < 50; attempt += 1) {
          const res = await transfer(ACCOUNT_B, { recipientAccountId: ACCOUNT_A, amount: '0.25' }, key);
          if (res.status === 409) return res;
          await new Promise((r) => setTimeout(r, 20));
        }
        return undefined;
      })();
      expect(conflict?.status).toBe(409);
      expect(conflict?.body.type).toMatch(/idempotency/);
      await holder.query('COMMIT');
      expect((await first).status).toBe(201);
    } finally {
      holder.release();
    }
  });

  it('executes 50 concurrent identical requests once', async () => {
    const before = await balanceOf(ACCOUNT_A);
    const key = randomUUID();
    const body = { recipientAccountId: ACCOUNT_B, amount: '3.00' };
    const results = await Promise.all(Array.from({ length: 50 }, () => transfer(ACCOUNT_A, body, key)));
    // 409: the first is still running; 504: the outcome is unknown (a loaded machine). Either way the
    // client retries with the same key, as the answer says, and gets the one result.
    const unexpected = results.filter((r) => ![201, 409, 504].includes(r.status));
    expect(unexpected.map((r) => r.body)).toEqual([]);
    const settled = await waitFor(
      async () => {
        const res = await transfer(ACCOUNT_A, body, key);
        return res.status === 201 ? res : undefined;
      },
      { what: 'the transfer under its key', timeoutMs: 30_000, intervalMs: 200 },
    );
    const created = [...results.filter((r) => r.status === 201), settled];
    expect(created.filter((r) => r.headers.get('idempotent-replayed') !== 'true').length).toBeLessThanOrEqual(1);
    expect(new Set(created.map((r) => r.body.id)).size).toBe(1);
    const after = await balanceOf(ACCOUNT_A);
    expect(parseAmountMinor(before) - parseAmountMinor(after)).toBe(300n);
  });

  it.each([
    ['a JSON number amount', { recipientAccountId: ACCOUNT_B, amount: 10 }],
    ['three decimals', { recipientAccountId: ACCOUNT_B, amount: '1.001' }],
    ['a negative amount', { recipientAccountId: ACCOUNT_B, amount: '-1.00' }],
    ['a zero amount', { recipientAccountId: ACCOUNT_B, amount: '0.00' }],
    ['an amount above the maximum', { recipientAccountId: ACCOUNT_B, amount: '1000000.01' }],
    ['a malformed recipient', { recipientAccountId: 'not-a-uuid', amount: '1.00' }],
    ['a missing amount', { recipientAccountId: ACCOUNT_B }],
    ['an unknown field', { recipientAccountId: ACCOUNT_B, amount: '1.00', memo: 'x' }],
    ['a description over 140 characters', { recipientAccountId: ACCOUNT_B, amount: '1.00', description: 'x'.repeat(141) }],
  ])('rejects %s with 400 and changes nothing', async (_name, body) => {
    const before = await balanceOf(ACCOUNT_A);
    const res = await transfer(ACCOUNT_A, body);
    expect(res.status).toBe(400);
    expect(res.contentType).toContain('application/problem+json');
    expect(res.body).toMatchObject({ status: 400 });
    expect(typeof res.body.type).toBe('string');
    expect(typeof res.body.detail).toBe('string');
    expect(await balanceOf(ACCOUNT_A)).toBe(before);
  });

  it('rejects a missing or oversized Idempotency-Key and a malformed JSON body with 400', async () => {
    expect((await transfer(ACCOUNT_A, { recipientAccountId: ACCOUNT_B, amount: '1.00' }, null)).status).toBe(400);
    expect((await transfer(ACCOUNT_A, { recipientAccountId: ACCOUNT_B, amount: '1.00' }, 'k'.repeat(256))).status).toBe(400);
    const broken = await call('POST', `/accounts/${ACCOUNT_A}/transfers`, {
      rawBody: '{"recipientAccountId": ',
      headers: { 'content-type': 'application/json', 'Idempotency-Key': randomUUID() },
    });
    expect(broken.status).toBe(400);
    expect(broken.contentType).toContain('application/problem+json');
  });

  it('answers 404 for an unknown sender or recipient', async () => {
    const sender = await transfer(UNKNOWN, { recipientAccountId: ACCOUNT_B, amount: '1.00' });
    const recipient = await transfer(ACCOUNT_A, { recipientAccountId: UNKNOWN, amount: '1.00' });
    expect(sender.status).toBe(404);
    expect(recipient.status).toBe(404);
    expect((await call('GET', `/accounts/${UNKNOWN}/balance`)).status).toBe(404);
  });

  it('answers 422 for insufficient funds, a transfer to oneself and a currency mismatch', async () => {
    const before = await balanceOf(ACCOUNT_B);
    const poor = await transfer(ACCOUNT_B, { recipientAccountId: ACCOUNT_A, amount: '999999.00' });
    const self = await transfer(ACCOUNT_B, { recipientAccountId: ACCOUNT_B, amount: '1.00' });
    const mismatch = await transfer(ACCOUNT_B, { recipientAccountId: eurAccount, amount: '1.00' });
    for (const res of [poor, self, mismatch]) {
      expect(res.status).toBe(422);
      expect(res.contentType).toContain('application/problem+json');
    }
    expect(new Set([poor.body.type, self.body.type, mismatch.body.type]).size).toBe(3);
    expect(await balanceOf(ACCOUNT_B)).toBe(before);
  });

  it('serves the balance, health, readiness, metrics, the spec and the docs', async () => {
    const balance = await call('GET', `/accounts/${ACCOUNT_A}/balance`);
    expect(balance.status).toBe(200);
    expect(balance.body).toMatchObject({ accountId: ACCOUNT_A, currency: 'USD' });
    expect((await call('GET', '/healthz')).status).toBe(200);
    expect((await call('GET', '/readyz')).status).toBe(200);
    const metrics = await call('GET', '/metrics');
    expect(metrics.status).toBe(200);
    expect(String(metrics.body)).toContain('# TYPE');
    expect((await call('GET', '/openapi.yaml')).status).toBe(200);
    expect((await call('GET', '/docs')).status).toBeLessThan(400);
  });

  it('echoes X-Request-Id and generates one when absent', async () => {
    const echoed = await call('GET', `/accounts/${ACCOUNT_A}/balance`, { headers: { 'X-Request-Id': 'req-e2e-1' } });
    expect(echoed.headers.get('x-request-id')).toBe('req-e2e-1');
    const generated = await call('GET', `/accounts/${ACCOUNT_A}/balance`);
    expect(generated.headers.get('x-request-id')).toBeTruthy();
  });

  it('answers 504 within the deadline when the bank hangs, and 503 when it is down, then recovers', async () => {
    const bank = system.processes.bank!;
    bank.child.kill('SIGSTOP');
    try {
      const started = Date.now();
      const slow = await call('GET', `/accounts/${ACCOUNT_A}/balance`);
      expect(slow.status).toBe(504);
      expect(Date.now() - started).toBeLessThan(10_000);
    } finally {
      bank.child.kill('SIGCONT');
    }
    await bank.stop();
    const down = await transfer(ACCOUNT_A, { recipientAccountId: ACCOUNT_B, amount: '1.00' });
    expect(down.status).toBe(503);
    expect(down.headers.get('retry-after')).toBeTruthy();
    expect((await call('GET', `/accounts/${ACCOUNT_A}/balance`)).status).toBe(503);
    await system.restart('bank');
    // The gateway's channel reconnects with bounded backoff; a client retries with the same key.
    const key = randomUUID();
    const back = await waitFor(
      async () => {
        const res = await transfer(ACCOUNT_A, { recipientAccountId: ACCOUNT_B, amount: '1.00' }, key);
        return res.status === 201 ? res : undefined;
      },
      { what: 'a transfer to succeed after the bank restarted', timeoutMs: 20_000, intervalMs: 250 },
    );
    expect(back.body.amount).toBe('1.00');
  });
});
