// The dispatcher is a pipeline: a receiver that hangs holds back only its own
// (endpoint, account) queues and at most its endpoint's share of the sends in
// flight, never other accounts' deliveries. The delivery deadline here is long
// (60 s), so a hung request stays open for the whole test: a dispatcher that
// waited for its batch's slowest send, or let one endpoint take every slot,
// would deliver nothing else until the hang ends and fail these waits.
import { randomUUID } from 'node:crypto';
import { callUnary } from '@wallet/platform';
import { waitFor } from '@wallet/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, transferEvent, type Harness } from '../support/harness.js';
import { startReceiver, type Receiver } from '../support/receiver.js';

const TIMEOUT_MS = 10_000;
/** Bound of every wait for a delivery: generous, the machine is shared (a deadline, not a sleep). */
const DELIVERY_WAIT_MS = 30_000;
let h: Harness;

beforeAll(async () => {
  h = await startHarness({
    WEBHOOK_DELIVERY_TIMEOUT_MS: '60000',
    WEBHOOK_DISPATCH_CONCURRENCY_MAX: '4',
    WEBHOOK_DISPATCH_ENDPOINT_CONCURRENCY_MAX: '2',
    // Idle polls rare: progress must come from the pipeline (a freed slot claims at once).
    WEBHOOK_DISPATCH_INTERVAL_MS: '2000',
  });
});

afterAll(async () => {
  await h?.close();
});

/** A customer with `accounts` fresh accounts and a receiver registered for them. */
async function subscriber(accounts = 1): Promise<{ accountIds: string[]; receiver: Receiver }> {
  const user = `user-${randomUUID()}`;
  const accountIds = Array.from({ length: accounts }, () => randomUUID());
  for (const id of accountIds) h.owners.set(id, user);
  const receiver = await startReceiver();
  const created = await callUnary(
    h.client,
    h.client.createEndpoint,
    { url: receiver.url, events: ['transfer_out'], idempotencyKey: randomUUID() },
    { timeoutMs: TIMEOUT_MS, headers: { authorization: await h.issuer.bearer(user) } },
  );
  receiver.secret = created.secret;
  return { accountIds, receiver };
}

describe('dispatch pipeline', { timeout: 120_000 }, () => {
  it('a hanging receiver holds back only its own queue: another account’s 20 ordered deliveries all arrive meanwhile', async () => {
    const slow = await subscriber();
    const fast = await subscriber();
    slow.receiver.hang = true;
    await h.publish([transferEvent(slow.accountIds[0]!)]);
    await waitFor(() => slow.receiver.open === 1, { timeoutMs: DELIVERY_WAIT_MS, what: 'the hanging receiver to be called' });
    const events = Array.from({ length: 20 }, (_, i) => transferEvent(fast.accountIds[0]!, { amount: `${i + 1}.00` }));
    await h.publish(events);
    await waitFor(() => fast.receiver.received.length >= events.length, { timeoutMs: DELIVERY_WAIT_MS, what: 'the other account’s deliveries' });
    // Still hanging: the 20 went out beside it, in their order, each once.
    expect(slow.receiver.open).toBe(1);
    expect(fast.receiver.received.map((r) => r.event.eventId)).toEqual(events.map((e) => e.eventId));
    expect(fast.receiver.received.every((r) => r.signatureValid && r.status === 200)).toBe(true);
    slow.receiver.release();
    await waitFor(() => slow.receiver.open === 0, { timeoutMs: DELIVERY_WAIT_MS, what: 'the held request to be answered' });
    await slow.receiver.close();
    await fast.receiver.close();
  });

  it('one endpoint hanging on many accounts takes at most its share of the slots; other endpoints keep theirs', async () => {
    const slow = await subscriber(5);
    const fast = await subscriber(3);
    slow.receiver.hang = true;
    await h.publish(slow.accountIds.map((id) => transferEvent(id)));
    await waitFor(() => slow.receiver.open === 2, { timeoutMs: DELIVERY_WAIT_MS, what: 'the slow endpoint to hold its share' });
    const events = fast.accountIds.flatMap((id) => Array.from({ length: 4 }, () => transferEvent(id)));
    await h.publish(events);
    await waitFor(() => fast.receiver.received.length >= events.length, { timeoutMs: DELIVERY_WAIT_MS, what: 'the other endpoint’s deliveries' });
    // Five accounts could have taken all four slots; the share kept it to two.
    expect(slow.receiver.openMax).toBe(2);
    expect(new Set(fast.receiver.received.map((r) => r.event.eventId))).toEqual(new Set(events.map((e) => e.eventId)));
    slow.receiver.release();
    // Released, the slow endpoint's other accounts go out too (two at a time).
    await waitFor(() => new Set(slow.receiver.received.map((r) => r.event.accountId)).size === 5 && slow.receiver.open === 0, {
      timeoutMs: DELIVERY_WAIT_MS,
      what: 'the slow endpoint’s deliveries',
    });
    expect(slow.receiver.openMax).toBe(2);
    await slow.receiver.close();
    await fast.receiver.close();
  });
});
