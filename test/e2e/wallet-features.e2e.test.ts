// End to end for issue 15's features, over REST only, through the whole native
// system (gateway -> bank / card adapter -> PostgreSQL, outbox -> Kafka ->
// analytics): limits and holds with the balance parts, a reversal, a refund of
// a top-up to the card, a statement whose closing balance is the ledger's, the
// balance at a past instant, the ledger's hash chain, and the new events in
// the history. Every answer is checked against openapi.yaml by `http`.
import { randomUUID } from 'node:crypto';
import { parseAmountMinor } from '@wallet/platform';
import { waitFor } from '@wallet/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACCOUNT_A, ACCOUNT_B, ADMIN, ALICE, BOB, http, rememberSecret, startSystem, type RunningSystem } from './harness.js';

/** Bound on an event reaching the history (eventually consistent, usually well under a second). */
const HISTORY_WAIT_MS = 30_000;

describe('wallet features over REST (issue 15)', { timeout: 120_000 }, () => {
  let system: RunningSystem;
  let user: { username: string; password: string; userId: string };
  let account: string;

  const as = (who: Parameters<RunningSystem['as']>[0]) => system.as(who);
  const post = async (who: Parameters<RunningSystem['as']>[0], path: string, body: unknown, key: string | undefined = randomUUID()) =>
    http(system.baseUrl, 'POST', path, { body, headers: { ...(await as(who)), ...(key ? { 'idempotency-key': key } : {}) } });
  const get = async (who: Parameters<RunningSystem['as']>[0], path: string) => http(system.baseUrl, 'GET', path, { headers: await as(who) });
  const balance = async (accountId: string) => (await get(ADMIN, `/accounts/${accountId}/balance`)).body as Record<string, string>;
  /** Waits until the account's history has an operation of this type matching `where`. */
  const operation = (accountId: string, type: string, where: (op: Record<string, unknown>) => boolean = () => true) =>
    waitFor(
      async () => {
        const page = await get(ADMIN, `/accounts/${accountId}/operations?limit=100`);
        return (page.body.items as Array<Record<string, unknown>> | undefined)?.find((op) => op.type === type && where(op));
      },
      { timeoutMs: HISTORY_WAIT_MS, intervalMs: 250, what: `${type} in the history of ${accountId}` },
    );

  beforeAll(async () => {
    system = await startSystem({ analytics: true, cardAdapter: true });
    const credentials = { username: `features-${randomUUID().slice(0, 8)}`, password: `pw-${randomUUID()}` };
    rememberSecret(credentials.password);
    const registered = await http(system.baseUrl, 'POST', '/auth/register', { body: credentials });
    expect(registered.status).toBe(201);
    user = { ...credentials, userId: registered.body.userId as string };
    const opened = await post(user, '/accounts', { currency: 'USD' });
    expect(opened.status).toBe(201);
    account = opened.body.accountId as string;
    expect((await post(ALICE, `/accounts/${ACCOUNT_A}/transfers`, { recipientAccountId: account, amount: '100.00' })).status).toBe(201);
  });
  afterAll(async () => {
    await system?.stop();
  });

  it('a hold counts against the daily limit at once, a partial capture posts part of it and gives the rest back', async () => {
    const limited = await http(system.baseUrl, 'PUT', `/accounts/${account}/limits`, {
      body: { dailyLimitMax: '60.00', dailyLimit: '50.00' },
      headers: await as(ADMIN),
    });
    expect(limited.status).toBe(200);
    expect(limited.body).toMatchObject({ dailyLimit: '50.00', dailyLimitMax: '60.00', dailySpent: '0.00', dailyRemaining: '50.00' });
    // The owner may not raise the limit above the admin's maximum.
    const above = await http(system.baseUrl, 'PUT', `/accounts/${account}/limits`, { body: { dailyLimit: '70.00' }, headers: await as(user) });
    expect(above.status).toBe(422);
    expect(above.body).toMatchObject({ code: 'LIMIT_ABOVE_MAXIMUM', limit: 'daily', maximum: '60.00' });

    const held = await post(user, `/accounts/${account}/holds`, { recipientAccountId: ACCOUNT_B, amount: '30.00', description: 'Hotel deposit' });
    expect(held.status).toBe(201);
    expect(held.body).toMatchObject({ status: 'pending', amount: '30.00', senderAccountId: account, recipientAccountId: ACCOUNT_B });
    expect(await balance(account)).toMatchObject({ balance: '70.00', available: '70.00', pending: '-30.00', posted: '100.00' });

    const refused = await post(user, `/accounts/${account}/transfers`, { recipientAccountId: ACCOUNT_B, amount: '25.00' });
    expect(refused.status).toBe(422);
    expect(refused.body).toMatchObject({ code: 'LIMIT_EXCEEDED', limit: 'daily', remaining: '20.00' });

    const captured = await post(user, `/holds/${held.body.id}/capture`, { amount: '10.00' }, undefined);
    expect(captured.status).toBe(200);
    expect(captured.body.hold).toMatchObject({ status: 'captured', capturedAmount: '10.00' });
    expect(captured.body.transfer).toMatchObject({ amount: '10.00', senderAccountId: account, recipientAccountId: ACCOUNT_B });
    expect(await balance(account)).toMatchObject({ available: '90.00', pending: '0.00', posted: '90.00' });
    // The 20.00 not captured went back to today's allowance.
    expect((await get(user, `/accounts/${account}/limits`)).body).toMatchObject({ dailySpent: '10.00', dailyRemaining: '40.00' });

    // Capture won: the same capture answers it again, a void loses with the hold's state.
    const again = await post(user, `/holds/${held.body.id}/capture`, { amount: '10.00' }, undefined);
    expect(again.status).toBe(200);
    expect(again.body.hold).toEqual(captured.body.hold);
    const voided = await post(user, `/holds/${held.body.id}/void`, {}, undefined);
    expect(voided.status).toBe(409);
    expect(voided.body).toMatchObject({ code: 'HOLD_NOT_PENDING', holdStatus: 'captured' });

    await operation(account, 'hold_created', (op) => op.holdId === held.body.id);
    await operation(account, 'hold_captured', (op) => op.holdId === held.body.id);
    await operation(ACCOUNT_B, 'transfer_in', (op) => op.transferId === captured.body.transfer.id);
  });

  it('the recipient reverses part of a transfer, never more than what remains, and both histories link it', async () => {
    const sent = await post(ALICE, `/accounts/${ACCOUNT_A}/transfers`, { recipientAccountId: account, amount: '20.00', description: 'Order 7' });
    expect(sent.status).toBe(201);
    const reversed = await post(user, `/transfers/${sent.body.id}/reverse`, { amount: '5.00', reason: 'One item out of stock' });
    expect(reversed.status).toBe(201);
    expect(reversed.body).toMatchObject({ originalTransferId: sent.body.id, fromAccountId: account, toAccountId: ACCOUNT_A, amount: '5.00', remaining: '15.00', forced: false });
    const tooMuch = await post(user, `/transfers/${sent.body.id}/reverse`, { amount: '20.00', reason: 'All of it' });
    expect(tooMuch.status).toBe(422);
    expect(tooMuch.body).toMatchObject({ code: 'REVERSAL_EXCEEDS_REMAINING', remaining: '15.00' });
    // The sender cannot pull money back.
    expect((await post(ALICE, `/transfers/${sent.body.id}/reverse`, { reason: 'I changed my mind' })).status).toBeGreaterThanOrEqual(403);

    await operation(ACCOUNT_A, 'reversal_in', (op) => op.reversalId === reversed.body.id && op.originalTransferId === sent.body.id);
    await operation(account, 'reversal_out', (op) => op.reversalId === reversed.body.id);
  });

  it('a refused reversal replays its 422 for the same key (another body with it is refused), and the reversals of a transfer are listed page by page', async () => {
    const sent = await post(ALICE, `/accounts/${ACCOUNT_A}/transfers`, { recipientAccountId: account, amount: '3.00', description: 'Order 8' });
    expect(sent.status).toBe(201);
    const key = `rev-${randomUUID()}`;
    const tooMuch = await post(user, `/transfers/${sent.body.id}/reverse`, { amount: '3.01', reason: 'More than sent' }, key);
    expect(tooMuch.status).toBe(422);
    const again = await post(user, `/transfers/${sent.body.id}/reverse`, { amount: '3.01', reason: 'More than sent' }, key);
    expect(again.status).toBe(422);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.body).toMatchObject({ code: 'REVERSAL_EXCEEDS_REMAINING', remaining: '3.00' });
    expect((await post(user, `/transfers/${sent.body.id}/reverse`, { amount: '1.00', reason: 'Other body' }, key)).status).toBe(422);

    const first = await post(user, `/transfers/${sent.body.id}/reverse`, { amount: '1.00', reason: 'Part one' });
    const second = await post(user, `/transfers/${sent.body.id}/reverse`, { amount: '0.50', reason: 'Part two' });
    expect([first.status, second.status]).toEqual([201, 201]);
    const page = await get(ALICE, `/transfers/${sent.body.id}/reversals?limit=1`);
    expect(page.status).toBe(200);
    expect(page.body).toMatchObject({ transferId: sent.body.id, amount: '3.00', reversed: '1.50', remaining: '1.50', currency: 'USD' });
    expect((page.body.items as Array<{ id: string }>).map((r) => r.id)).toEqual([first.body.id]);
    const rest = await get(user, `/transfers/${sent.body.id}/reversals?cursor=${page.body.nextCursor as string}`);
    expect(rest.body).toMatchObject({ items: [{ id: second.body.id, remaining: '1.50', reason: 'Part two' }], nextCursor: null });
    expect((await get(BOB, `/transfers/${sent.body.id}/reversals`)).status).toBe(404);
  });

  it('a top-up is refunded to the card: the wallet is debited and the refund shows in the history', async () => {
    const card = { number: '4242 4242 4242 4242', expiryMonth: 12, expiryYear: new Date().getUTCFullYear() + 3, cvc: '123' };
    const topUp = await post(user, `/accounts/${account}/topup`, { amount: '25.00', card });
    expect(topUp.status).toBe(201);
    const before = await balance(account);
    const refund = await post(user, `/topups/${topUp.body.id}/refund`, { amount: '10.00' });
    expect(refund.status).toBe(201);
    expect(refund.body).toMatchObject({ topUpId: topUp.body.id, accountId: account, amount: '10.00', status: 'succeeded' });
    const after = await balance(account);
    expect(parseAmountMinor(after.posted!)).toBe(parseAmountMinor(before.posted!)! - 1000n);
    // No more than the top-up: 15.00 remain.
    const tooMuch = await post(user, `/topups/${topUp.body.id}/refund`, { amount: '20.00' });
    expect(tooMuch.status).toBe(422);
    // One refund id: the REST id is the refundId of the history entry (and of the event it came from).
    await operation(account, 'refund', (op) => op.topUpId === topUp.body.id && op.refundId === refund.body.id);
  });

  it('a statement closes at the ledger balance, and the balance at a past instant is what it was then', async () => {
    const before = await balance(account);
    const at = new Date().toISOString();
    await new Promise((resolve) => setTimeout(resolve, 5)); // the next entry is strictly after `at`
    expect((await post(ALICE, `/accounts/${ACCOUNT_A}/transfers`, { recipientAccountId: account, amount: '1.23' })).status).toBe(201);
    const past = await get(user, `/accounts/${account}/balance?at=${encodeURIComponent(at)}`);
    expect(past.status).toBe(200);
    expect(past.body).toMatchObject({ accountId: account, balance: before.posted });

    const now = await balance(account);
    const from = new Date(Date.now() - 3_600_000).toISOString();
    const to = new Date(Date.now() + 60_000).toISOString();
    const statement = await get(user, `/accounts/${account}/statement?from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}&format=json`);
    expect(statement.status).toBe(200);
    expect(statement.body).toMatchObject({ accountId: account, openingBalance: '0.00', closingBalance: now.posted });
    const entries = statement.body.entries as Array<{ balance: string }>;
    expect(entries.at(-1)?.balance).toBe(now.posted);
    expect(statement.body.entryCount).toBe(entries.length);

    const csv = await http(system.baseUrl, 'GET', `/accounts/${account}/statement?from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}&format=csv`, {
      headers: await as(user),
    });
    expect(csv.status).toBe(200);
    expect(csv.contentType).toMatch(/^text\/csv/);
    expect(String(csv.body)).toContain(`"${now.posted}"`);
  });

  it('the ledger verifies: every hash chain is intact', async () => {
    const verified = await get(ADMIN, '/admin/ledger/verify?limit=1000');
    expect(verified.status).toBe(200);
    expect(verified.body).toMatchObject({ ok: true });
    expect(verified.body.entriesChecked).toBeGreaterThan(0);
    expect((await get(user, '/admin/ledger/verify')).status).toBe(403);
  });
});
