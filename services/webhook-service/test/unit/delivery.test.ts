import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { parseEvent, planDeliveries } from '../../src/app/fanout.js';
import { afterFailure, decodeCursor, encodeCursor, outcomeOfStatus, retryDelayMs } from '../../src/domain/delivery.js';
import { checkEvents } from '../../src/domain/endpoint.js';
import type { EndpointRecord } from '../../src/domain/endpoint.js';

const policy = { delayMsMin: 1_000, delayMsMax: 60_000 };

describe('backoff', () => {
  it('doubles from the minimum up to the maximum, jittered between half and all of it', () => {
    expect(retryDelayMs(1, policy, 0)).toBe(500);
    expect(retryDelayMs(1, policy, 0.999999)).toBe(1_000);
    expect(retryDelayMs(3, policy, 0.999999)).toBe(4_000);
    expect(retryDelayMs(30, policy, 0.999999)).toBe(60_000);
    expect(retryDelayMs(1_000, policy, 0)).toBe(30_000);
  });

  it('gives up once the next attempt would fall after the retry window', () => {
    const now = new Date('2026-01-01T00:00:00Z');
    expect(afterFailure(1, now, new Date(now.getTime() + 10_000), policy, 0)).toEqual({ status: 'pending', nextAttemptAt: new Date(now.getTime() + 500) });
    expect(afterFailure(10, now, new Date(now.getTime() + 10_000), policy, 0)).toEqual({ status: 'failed' });
  });

  it('counts only 2xx as delivered (redirects are failures: not followed)', () => {
    expect(outcomeOfStatus(204).kind).toBe('succeeded');
    expect(outcomeOfStatus(302)).toEqual({ kind: 'failed', statusCode: 302, error: 'HTTP 302' });
    expect(outcomeOfStatus(500).kind).toBe('failed');
  });
});

describe('log cursor', () => {
  it('round-trips and refuses garbage', () => {
    const cursor = { createdAt: '2026-01-01T00:00:00.123Z', id: randomUUID() };
    expect(decodeCursor(encodeCursor(cursor))).toEqual(cursor);
    expect(decodeCursor('garbage')).toBeUndefined();
    expect(decodeCursor(Buffer.from('["x","y"]').toString('base64url'))).toBeUndefined();
  });
});

describe('fan-out', () => {
  const account = randomUUID();
  const endpoint = (over: Partial<EndpointRecord>): EndpointRecord => ({
    id: randomUUID(),
    ownerId: 'alice',
    allAccounts: false,
    url: 'https://example.com',
    events: ['transfer_out'],
    enabled: true,
    createdAt: new Date(),
    secretVersion: 1,
    previousSecretExpiresAt: null,
    ...over,
  });

  it('plans a delivery per matching endpoint: owner’s own, admin’s for every account, in event order', () => {
    const events = [1, 2].map(() => ({ eventId: randomUUID(), eventType: 'transfer_out', accountId: account, body: '{}' }));
    const mine = endpoint({});
    const admin = endpoint({ ownerId: 'root', allAccounts: true });
    const others = endpoint({ ownerId: 'bob' });
    const wrongType = endpoint({ events: ['topup'] });
    const disabled = endpoint({ enabled: false });
    const planned = planDeliveries(events, [mine, admin, others, wrongType, disabled], new Map([[account, 'alice']]));
    expect(planned.map((p) => [p.eventId, p.endpointId])).toEqual([
      [events[0]!.eventId, mine.id],
      [events[0]!.eventId, admin.id],
      [events[1]!.eventId, mine.id],
      [events[1]!.eventId, admin.id],
    ]);
  });

  it('parses the fields it needs and refuses what is not an event', () => {
    const id = randomUUID();
    const body = JSON.stringify({ eventId: id, eventType: 'topup', accountId: account, amount: '1.00' });
    expect(parseEvent(Buffer.from(body))).toEqual({ ok: true, event: { eventId: id, eventType: 'topup', accountId: account, body } });
    expect(parseEvent(Buffer.from('nope'))).toEqual({ ok: false, reason: 'not_json' });
    expect(parseEvent(Buffer.from('{"eventType":"topup"}'))).toEqual({ ok: false, reason: 'no_event_id' });
    expect(parseEvent(undefined)).toEqual({ ok: false, reason: 'empty' });
    expect(parseEvent(Buffer.from('null'))).toEqual({ ok: false, reason: 'no_event_id' });
  });

  it('checks subscribed event types', () => {
    expect(checkEvents(['topup', 'transfer_in', 'topup'])).toEqual({ ok: true, events: ['topup', 'transfer_in'] });
    expect(checkEvents([]).ok).toBe(false);
    expect(checkEvents(['wire']).ok).toBe(false);
  });
});
