// Pure unit tests of the chaos run's webhook parts: the receiver's own
// Standard Webhooks check (against the specification's example), the
// receiver over loopback HTTP, and the final check of what was delivered.
import { createHmac } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { scheduleRound } from '../../scripts/chaos/faults.mjs';
import { checkDeliveryLogs, checkWebhookDeliveries, expectedEvents, redeliveriesNotReceived, waitForWebhookDeliveries, type DeliveryLogEntry } from '../../scripts/chaos/webhook-facts.mjs';
import { classifyOpsAnswer, pickRedelivery } from '../../scripts/chaos/webhook-ops.mjs';
import { chooseAnswer, startWebhookReceiver, verifyWebhookSignature, type ReceivedDelivery, type WebhookReceiver } from '../../scripts/chaos/webhook-receiver.mjs';

const SPEC = {
  secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
  id: 'msg_p5jXN8AQM9LWM0D4loKWxJek',
  timestamp: 1614265330,
  body: '{"test": 2432232314}',
  signature: 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
};
const specHeaders = (signature = SPEC.signature) => ({ 'webhook-id': SPEC.id, 'webhook-timestamp': String(SPEC.timestamp), 'webhook-signature': signature });

describe('verifyWebhookSignature', () => {
  it("accepts the Standard Webhooks specification's example", () => {
    expect(verifyWebhookSignature(SPEC.secret, specHeaders(), SPEC.body, SPEC.timestamp)).toBe(true);
  });

  it('accepts a list of signatures when one of them matches (rotation)', () => {
    expect(verifyWebhookSignature(SPEC.secret, specHeaders(`v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= ${SPEC.signature}`), SPEC.body, SPEC.timestamp)).toBe(true);
  });

  it('refuses a changed body, another secret, a stale timestamp or missing headers', () => {
    expect(verifyWebhookSignature(SPEC.secret, specHeaders(), '{"test": 2432232315}', SPEC.timestamp)).toBe(false);
    expect(verifyWebhookSignature('whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', specHeaders(), SPEC.body, SPEC.timestamp)).toBe(false);
    expect(verifyWebhookSignature(SPEC.secret, specHeaders(), SPEC.body, SPEC.timestamp + 301)).toBe(false);
    expect(verifyWebhookSignature(SPEC.secret, { 'webhook-id': SPEC.id, 'webhook-signature': SPEC.signature }, SPEC.body, SPEC.timestamp)).toBe(false);
    expect(verifyWebhookSignature(SPEC.secret, specHeaders('v1,'), SPEC.body, SPEC.timestamp)).toBe(false);
  });
});

describe('chooseAnswer', () => {
  it('fails, hangs or acknowledges by the given shares', () => {
    const shares = { failShare: 0.1, hangShare: 0.05 };
    expect(chooseAnswer(() => 0.05, shares)).toBe('fail');
    expect(chooseAnswer(() => 0.12, shares)).toBe('hang');
    expect(chooseAnswer(() => 0.5, shares)).toBe('ok');
  });
});

describe('webhook receiver', () => {
  let receiver: WebhookReceiver | undefined;
  afterEach(async () => {
    await receiver?.close();
    receiver = undefined;
  });
  const secret = `whsec_${Buffer.alloc(24, 7).toString('base64')}`;
  const send = (url: string, id: string, event: object, key = secret, signal?: AbortSignal) => {
    const body = JSON.stringify(event);
    const timestamp = Math.floor(Date.now() / 1000);
    const mac = createHmac('sha256', Buffer.from(key.slice('whsec_'.length), 'base64')).update(`${id}.${timestamp}.${body}`).digest('base64');
    return fetch(url, { method: 'POST', body, headers: { 'webhook-id': id, 'webhook-timestamp': String(timestamp), 'webhook-signature': `v1,${mac}` }, signal });
  };
  const event = { eventId: 'e1', eventType: 'topup', accountId: 'a1' };

  it('records a signed delivery and acknowledges it, numbered after its arrival', async () => {
    receiver = await startWebhookReceiver({ next: () => 0.99 });
    receiver.setSecret('u1', secret);
    const res = await send(receiver.urlFor('u1'), 'd1', event);
    expect(res.status).toBe(200);
    expect(receiver.deliveries).toHaveLength(1);
    const [d] = receiver.deliveries;
    expect(d).toMatchObject({ endpoint: 'u1', deliveryId: 'd1', eventId: 'e1', eventType: 'topup', accountId: 'a1', signatureValid: true, answer: 200 });
    expect(d!.ackSeq).toBeGreaterThan(d!.seq);
  });

  it('refuses a delivery signed with another secret (400) and answers 500 for its failing share', async () => {
    receiver = await startWebhookReceiver({ next: () => 0 });
    receiver.setSecret('u1', secret);
    expect((await send(receiver.urlFor('u1'), 'd1', event, `whsec_${Buffer.alloc(24, 9).toString('base64')}`)).status).toBe(400);
    expect((await send(receiver.urlFor('u1'), 'd2', event)).status).toBe(500);
    expect(receiver.deliveries.map((d) => [d.signatureValid, d.answer, d.ackSeq])).toEqual([
      [false, 400, undefined],
      [true, 500, undefined],
    ]);
    expect((await send(receiver.urlFor('nobody'), 'd3', event)).status).toBe(404);
    expect(receiver.stats.unknownPath).toBe(1);
  });

  it('never answers its hanging share (the sender gives up) and keeps at most deliveriesMax records', async () => {
    receiver = await startWebhookReceiver({ next: () => 0.99, failShare: 0, hangShare: 1, deliveriesMax: 1 });
    receiver.setSecret('u1', secret);
    await expect(send(receiver.urlFor('u1'), 'd1', event, secret, AbortSignal.timeout(300))).rejects.toThrow();
    await send(receiver.urlFor('u1'), 'd2', event, secret, AbortSignal.timeout(300)).catch(() => undefined);
    expect(receiver.deliveries.map((d) => [d.deliveryId, d.answer, d.ackSeq])).toEqual([['d1', 'hang', undefined]]);
    expect(receiver.stats.overflow).toBe(1);
  });
});

describe('checkWebhookDeliveries', () => {
  const endpointOf = new Map([
    ['a1', 'u1'],
    ['a2', 'u2'],
  ]);
  const expected = expectedEvents(
    new Map([
      ['a1', [{ id: 'e1', type: 'transfer_out' }, { id: 'e2', type: 'hold_created' }, { id: 'e3', type: 'refund_cancelled' }]],
      ['a2', [{ id: 'f1', type: 'transfer_in' }]],
    ]),
  );
  const order = new Map([
    ['a1', ['e1', 'e2', 'e3']],
    ['a2', ['f1']],
  ]);
  const typeOf: Record<string, string> = { e1: 'transfer_out', e2: 'hold_created', e3: 'refund_cancelled', f1: 'transfer_in' };
  let seq = 0;
  const delivery = (eventId: string, answer: ReceivedDelivery['answer'], extra: Partial<ReceivedDelivery> = {}): ReceivedDelivery => {
    const arrived = ++seq;
    const accountId = eventId.startsWith('e') ? 'a1' : 'a2';
    return {
      endpoint: endpointOf.get(accountId)!,
      deliveryId: `d-${eventId}`,
      eventId,
      eventType: typeOf[eventId] ?? 'topup',
      accountId,
      signatureValid: true,
      seq: arrived,
      receivedAtMs: 0,
      answer,
      ...(answer === 200 ? { ackSeq: ++seq } : {}),
      ...extra,
    };
  };

  it('passes when every event arrived once or more, in order, signed, and counts retries and duplicates', () => {
    seq = 0;
    const deliveries = [delivery('e1', 500), delivery('f1', 200), delivery('e1', 'hang'), delivery('e1', 200), delivery('e1', 200), delivery('e2', 200), delivery('e3', 200)];
    const { violations, counts } = checkWebhookDeliveries({ deliveries, expected, order, endpointOf });
    expect(violations).toEqual([]);
    expect(counts).toMatchObject({ deliveries: 7, distinct: 4, acknowledged: 5, answered500: 1, hung: 1, retries: 2, duplicates: 1, expected: 4, missing: 0 });
  });

  it('reports a later event sent before an earlier one was acknowledged', () => {
    seq = 0;
    const deliveries = [delivery('e1', 500), delivery('e2', 200), delivery('e1', 200), delivery('e3', 200), delivery('f1', 200)];
    const { violations } = checkWebhookDeliveries({ deliveries, expected, order, endpointOf });
    expect(violations).toEqual([{ invariant: 'webhook deliveries in per-account order', detail: expect.stringContaining('hold_created e2 of account a1 sent to u1 before e1') }]);
  });

  it('reports a missing event, an unknown event, a bad signature and a delivery to another owner', () => {
    seq = 0;
    const deliveries = [
      delivery('e1', 200),
      delivery('e2', 200),
      delivery('x9', 200, { accountId: 'a1', endpoint: 'u1' }),
      delivery('e3', 400, { signatureValid: false }),
      delivery('f1', 200, { endpoint: 'u1' }),
    ];
    const { violations, counts } = checkWebhookDeliveries({ deliveries, expected, order, endpointOf });
    expect(violations.map((v) => v.invariant).sort()).toEqual([
      'every event delivered to its webhook',
      'every event delivered to its webhook',
      'no webhook for an event that does not exist',
      'webhook signatures valid',
      "webhooks only to the account owner's endpoint",
    ]);
    expect(counts.missing).toBe(2);
  });

  it('waits until every expected event was acknowledged at its endpoint, or gives up after waitMs', async () => {
    seq = 0;
    const receiver = { deliveries: [delivery('e1', 200), delivery('e2', 200), delivery('e3', 200)], stats: { requests: 3, overflow: 0, unknownPath: 0 } } as unknown as WebhookReceiver;
    const onlyA1 = new Map([['a1', expected.get('a1')!]]);
    // Everything there: returns at once (a wait of ten minutes would time the test out).
    await waitForWebhookDeliveries({ receiver, expected: onlyA1, endpointOf, waitMs: 600_000 });
    // f1 never arrives: it gives up after its bound.
    expect(await waitForWebhookDeliveries({ receiver, expected, endpointOf, waitMs: 1 })).toBeGreaterThanOrEqual(1);
  });

  it('reports an unreadable stream and a receiver that dropped records', () => {
    seq = 0;
    const deliveries = [delivery('e1', 200), delivery('e2', 200), delivery('e3', 200), delivery('f1', 200)];
    const { violations } = checkWebhookDeliveries({ deliveries, expected, order: undefined, endpointOf, overflow: 3 });
    expect(violations.map((v) => v.invariant)).toEqual(['the receiver kept every delivery', 'webhook deliveries in per-account order']);
  });

  it('takes a manual redelivery of an acknowledged event, sent after later ones, for no order violation and no duplicate', () => {
    seq = 0;
    // e1 acknowledged, then e2 and e3; the owner redelivers e1 (out of order, ADR 0022 decision 4), it fails once, then is acknowledged.
    const deliveries = [
      delivery('e1', 200, { receivedAtMs: 1_000 }),
      delivery('e2', 200, { receivedAtMs: 1_100 }),
      delivery('e3', 200, { receivedAtMs: 1_200 }),
      delivery('e1', 500, { receivedAtMs: 2_050 }),
      delivery('e1', 200, { receivedAtMs: 2_400 }),
      delivery('f1', 200, { receivedAtMs: 2_500 }),
    ];
    const redeliveries = [{ endpoint: 'u1', deliveryId: 'd-e1', sentAtMs: 2_000, ok: true }];
    const { violations, counts } = checkWebhookDeliveries({ deliveries, expected, order, endpointOf, redeliveries });
    expect(violations).toEqual([]);
    expect(counts).toMatchObject({ retries: 1, duplicates: 0, redelivered: 1 });
    // Without the request it is an at-least-once duplicate, still in order.
    const unasked = checkWebhookDeliveries({ deliveries, expected, order, endpointOf });
    expect(unasked.violations).toEqual([]);
    expect(unasked.counts).toMatchObject({ duplicates: 1, redelivered: 0 });
  });

  it('still reports a later event sent before an earlier one was first acknowledged, redeliveries or not', () => {
    seq = 0;
    const deliveries = [delivery('e1', 'hang'), delivery('e2', 200), delivery('e1', 200), delivery('e3', 200), delivery('f1', 200)];
    const redeliveries = [{ endpoint: 'u1', deliveryId: 'd-e2', sentAtMs: 0, ok: true }];
    const { violations } = checkWebhookDeliveries({ deliveries, expected, order, endpointOf, redeliveries });
    expect(violations.map((v) => v.invariant)).toEqual(['webhook deliveries in per-account order']);
  });

  it('waits for every accepted redelivery to be acknowledged again, or gives up after waitMs', async () => {
    seq = 0;
    const deliveries = [delivery('e1', 200, { receivedAtMs: 1_000 }), delivery('e2', 200), delivery('e3', 200), delivery('f1', 200)];
    const receiver = { deliveries, stats: { requests: 4, overflow: 0, unknownPath: 0 } } as unknown as WebhookReceiver;
    const asked = [{ endpoint: 'u1', deliveryId: 'd-e1', sentAtMs: 1_500, ok: true }];
    expect(await waitForWebhookDeliveries({ receiver, expected, endpointOf, waitMs: 1, redeliveries: asked })).toBeGreaterThanOrEqual(1);
    // Arrived again but not acknowledged: still waiting; acknowledged: done at once.
    deliveries.push(delivery('e1', 'hang', { receivedAtMs: 1_600 }));
    expect(redeliveriesNotReceived(deliveries, asked, { acknowledged: true })).toHaveLength(1);
    expect(redeliveriesNotReceived(deliveries, asked)).toEqual([]);
    deliveries.push(delivery('e1', 200, { receivedAtMs: 1_700 }));
    await waitForWebhookDeliveries({ receiver, expected, endpointOf, waitMs: 600_000, redeliveries: asked });
    // A refused or unanswered redelivery is not waited for.
    expect(redeliveriesNotReceived(deliveries, [{ endpoint: 'u1', deliveryId: 'd-e2', sentAtMs: 9_999, ok: false }], { acknowledged: true })).toEqual([]);
  });
});

describe('checkDeliveryLogs', () => {
  let seq = 0;
  const received = (endpoint: string, deliveryId: string, answer: ReceivedDelivery['answer'], receivedAtMs = 0): ReceivedDelivery => ({
    endpoint,
    deliveryId,
    eventId: `ev-${deliveryId}`,
    eventType: 'topup',
    accountId: 'a1',
    signatureValid: true,
    seq: ++seq,
    receivedAtMs,
    answer,
    ...(answer === 200 ? { ackSeq: ++seq } : {}),
  });
  const entry = (id: string, status: string, attempts: number): DeliveryLogEntry => ({ id, status, attempts, eventId: `ev-${id}` });
  // d1: failed once then acknowledged; d2 acknowledged, redelivered at 5 s and acknowledged again; u2's d3 acknowledged.
  const deliveries = () => [
    received('u1', 'd1', 500, 1_000),
    received('u1', 'd1', 200, 2_000),
    received('u1', 'd2', 200, 3_000),
    received('u1', 'd2', 200, 5_200),
    received('u2', 'd3', 200, 4_000),
  ];
  const logs = (u1: DeliveryLogEntry[] | { error: string }, u2: DeliveryLogEntry[] | { error: string } = [entry('d3', 'succeeded', 1)]) =>
    new Map<string, DeliveryLogEntry[] | { error: string }>([
      ['u1', u1],
      ['u2', u2],
    ]);
  const goodU1 = () => [entry('d2', 'succeeded', 2), entry('d1', 'succeeded', 2)];
  const redeliveries = [
    { endpoint: 'u1', deliveryId: 'd2', sentAtMs: 5_000, ok: true },
    // Unanswered under a fault: not required to arrive.
    { endpoint: 'u1', deliveryId: 'd1', sentAtMs: 6_000, ok: false },
  ];

  it('passes when the logs agree with the receiver and the accepted redelivery arrived again, and counts', () => {
    const { violations, counts } = checkDeliveryLogs({ logs: logs(goodU1()), deliveries: deliveries(), redeliveries });
    expect(violations).toEqual([]);
    expect(counts).toEqual({ endpoints: 2, entries: 3, succeeded: 3, pending: 0, failed: 0, redeliveriesOk: 1, redeliveriesReceived: 1 });
  });

  it('reports a failed delivery, an acknowledged one pending or missing, and attempts fewer than the arrivals', () => {
    const failed = checkDeliveryLogs({ logs: logs([entry('d2', 'succeeded', 2), entry('d1', 'succeeded', 2), entry('d9', 'failed', 30)]), deliveries: deliveries() });
    expect(failed.violations).toEqual([{ invariant: 'no delivery failed in the log', detail: expect.stringContaining('delivery d9 (ev-d9) is failed after 30 attempts') }]);
    const pending = checkDeliveryLogs({ logs: logs([entry('d2', 'pending', 2), entry('d1', 'succeeded', 2)]), deliveries: deliveries() });
    expect(pending.violations).toEqual([{ invariant: 'every acknowledged delivery in the log as succeeded', detail: 'u1: delivery d2 acknowledged by the receiver is pending in the log' }]);
    const missing = checkDeliveryLogs({ logs: logs(goodU1(), []), deliveries: deliveries() });
    expect(missing.violations).toEqual([{ invariant: 'every acknowledged delivery in the log as succeeded', detail: "u2: delivery d3 acknowledged by the receiver is not in the endpoint's log" }]);
    const attempts = checkDeliveryLogs({ logs: logs([entry('d2', 'succeeded', 2), entry('d1', 'succeeded', 1)]), deliveries: deliveries() });
    expect(attempts.violations).toEqual([{ invariant: 'log attempts count every send', detail: 'u1: delivery d1 has 1 attempts in the log, the receiver saw it 2 times' }]);
  });

  it('reports an accepted redelivery that never arrived again (an arrival before the request does not count) and an unreadable log', () => {
    const late = [{ endpoint: 'u1', deliveryId: 'd1', sentAtMs: 2_500, ok: true }];
    const { violations } = checkDeliveryLogs({ logs: logs(goodU1(), { error: 'page 1: 503' }), deliveries: deliveries(), redeliveries: late });
    expect(violations.map((v) => v.invariant)).toEqual(['the delivery log readable', 'every redelivery received again']);
    expect(violations[1]!.detail).toContain('u1: delivery d1 redelivered (2xx)');
  });

  it('keeps at most 100 violations', () => {
    const many = Array.from({ length: 150 }, (_, i) => entry(`x${i}`, 'failed', 1));
    expect(checkDeliveryLogs({ logs: logs(many), deliveries: [] }).violations).toHaveLength(100);
  });
});

describe('the delivery log and redelivery calls during the workload', () => {
  it('picks a succeeded delivery not redelivered yet, or none', () => {
    const items = [
      { id: 'p', status: 'pending' },
      { id: 's1', status: 'succeeded' },
      { id: 'f', status: 'failed' },
      { id: 's2', status: 'succeeded' },
    ];
    expect(pickRedelivery(items, new Set(), () => 0)?.id).toBe('s1');
    expect(pickRedelivery(items, new Set(), () => 0.99)?.id).toBe('s2');
    expect(pickRedelivery(items, new Set(['s1']), () => 0)?.id).toBe('s2');
    expect(pickRedelivery(items, new Set(['s1', 's2']), () => 0)).toBeUndefined();
    expect(pickRedelivery([], new Set(), () => 0)).toBeUndefined();
  });

  it('counts 5xx, 429 and no answer as unknown, another 4xx as unexpected', () => {
    expect(classifyOpsAnswer({ status: 202 }, 202)).toBe('ok');
    expect(classifyOpsAnswer({ status: 200 }, 202)).toBe('unexpected');
    expect(classifyOpsAnswer({ status: 503 }, 200)).toBe('unknown');
    expect(classifyOpsAnswer({ status: 504 }, 200)).toBe('unknown');
    expect(classifyOpsAnswer({ status: 429 }, 200)).toBe('unknown');
    expect(classifyOpsAnswer({}, 200)).toBe('unknown');
    expect(classifyOpsAnswer({ status: 404 }, 202)).toBe('unexpected');
    expect(classifyOpsAnswer({ status: 400 }, 200)).toBe('unexpected');
  });
});

describe('the nemesis and the webhook-service', () => {
  it('kills and restarts the webhook-service with the other services, its recovery read from webhook deliveries', () => {
    const faults = scheduleRound(['identity', 'bank', 'analytics', 'webhooks', 'gateway'], { pauseMs: 4_000, tracks: 2 });
    const [services] = faults;
    expect(services!.find((f) => f.kind === 'killService' && f.arg === 'webhooks')).toEqual({ name: 'kill -9 webhooks', kind: 'killService', arg: 'webhooks', affects: 'webhook' });
    // Its certificate is rotated before the kills, like every gRPC service's (it calls the bank too).
    expect(services!.find((f) => f.kind === 'rotateCertificate' && f.arg === 'webhooks')).toMatchObject({ name: 'rotate certificate webhooks', affects: 'webhook' });
  });
});
