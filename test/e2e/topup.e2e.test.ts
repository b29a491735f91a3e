// End to end for card top-ups, over REST only, as alice (the account's owner):
// api-gateway -> bank-card-adapter
// (in-process payment gateway mock) -> bank-service DepositMoney -> outbox ->
// Kafka -> analytics -> GET /operations.
import { randomUUID } from 'node:crypto';
import { parseAmountMinor } from '@wallet/platform';
import { waitFor } from '@wallet/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACCOUNT_A, ALICE, http, startSystem, type RunningSystem } from './harness.js';

const card = (number: string, overrides: Record<string, unknown> = {}) => ({
  number,
  expiryMonth: 12,
  expiryYear: new Date().getUTCFullYear() + 3,
  cvc: '123',
  holderName: 'Ada Lovelace',
  ...overrides,
});

describe('card top-ups over REST', () => {
  let system: RunningSystem;
  const topUp = async (account: string, body: unknown, key: string = randomUUID()) =>
    http(system.baseUrl, 'POST', `/accounts/${account}/topup`, { body, headers: { 'Idempotency-Key': key, ...(await system.as(ALICE)) } });
  const balance = async () =>
    parseAmountMinor((await http(system.baseUrl, 'GET', `/accounts/${ACCOUNT_A}/balance`, { headers: await system.as(ALICE) })).body.balance as string);

  beforeAll(async () => {
    system = await startSystem({ analytics: true, cardAdapter: true });
  });
  afterAll(async () => {
    await system?.stop();
  });

  it('charges the card once, credits the account and shows the top-up in the history', async () => {
    const before = await balance();
    const key = randomUUID();
    const body = { amount: '25.00', card: card('4242 4242 4242 4242') };
    const res = await topUp(ACCOUNT_A, body, key);
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ accountId: ACCOUNT_A, amount: '25.00', currency: 'USD', status: 'completed', cardLast4: '4242' });
    expect(JSON.stringify(res.body)).not.toContain('4242424242424242');
    expect(await balance()).toBe(before + 2500n);

    const replay = await topUp(ACCOUNT_A, body, key);
    expect(replay.status).toBe(201);
    expect(replay.body).toEqual(res.body);
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(await balance()).toBe(before + 2500n);

    const reused = await topUp(ACCOUNT_A, { ...body, amount: '26.00' }, key);
    expect(reused.status).toBe(422);

    const op = await waitFor(
      async () => {
        const page = await http(system.baseUrl, 'GET', `/accounts/${ACCOUNT_A}/operations?type=topup`, { headers: await system.as(ALICE) });
        return (page.body.items as { topUpId?: string; type: string; amount: string; cardLast4?: string }[]).find((o) => o.topUpId === res.body.id);
      },
      { what: 'the top-up in /operations', timeoutMs: 30_000, intervalMs: 250 },
    );
    expect(op).toMatchObject({ type: 'topup', amount: '25.00', cardLast4: '4242', initiatedBy: ALICE.userId });
  });

  it('answers 402 for declined cards and credits nothing', async () => {
    const before = await balance();
    const declined = await topUp(ACCOUNT_A, { amount: '10.00', card: card('4000000000000002') });
    const poor = await topUp(ACCOUNT_A, { amount: '10.00', card: card('4000000000009995') });
    for (const res of [declined, poor]) {
      expect(res.status).toBe(402);
      expect(res.body.charged).toBe(false);
      expect(typeof res.body.declineCode).toBe('string');
    }
    expect(await balance()).toBe(before);
  });

  it('answers 400 for what breaks the schema, 422 with a distinct type per card rule, and 404 for an unknown account', async () => {
    const badCvc = await topUp(ACCOUNT_A, { amount: '10.00', card: card('4242424242424242', { cvc: '12' }) });
    const tooMuch = await topUp(ACCOUNT_A, { amount: '1000000.00', card: card('4242424242424242') });
    for (const res of [badCvc, tooMuch]) expect(res.status).toBe(400);
    // Schema-valid, but the card breaks a rule a schema cannot say: 422, not 400.
    const badLuhn = await topUp(ACCOUNT_A, { amount: '10.00', card: card('4242424242424241') });
    const expired = await topUp(ACCOUNT_A, { amount: '10.00', card: card('4242424242424242', { expiryYear: 2020, expiryMonth: 1 }) });
    for (const res of [badLuhn, expired]) expect(res.status).toBe(422);
    expect(badLuhn.body.type).toBe('urn:problem:wallet:invalid-card-number');
    expect(expired.body.type).toBe('urn:problem:wallet:card-expired');
    expect(expired.body.charged).toBe(false);
    const unknown = await topUp(randomUUID(), { amount: '10.00', card: card('4242424242424242') });
    expect(unknown.status).toBe(404);
    expect(unknown.body.charged).toBe(false);
  });

  it('charges once for concurrent duplicate requests', async () => {
    const before = await balance();
    const key = randomUUID();
    const body = { amount: '7.00', card: card('5555555555554444') };
    const results = await Promise.all(Array.from({ length: 10 }, () => topUp(ACCOUNT_A, body, key)));
    expect(results.every((r) => r.status === 201 || r.status === 409)).toBe(true);
    // Clients retry the 409s with the same key until they get the result.
    await waitFor(async () => (await topUp(ACCOUNT_A, body, key)).status === 201, { what: 'replay', timeoutMs: 20_000 });
    expect(await balance()).toBe(before + 700n);
  });
});
