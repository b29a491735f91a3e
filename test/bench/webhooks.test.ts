// The bench's webhook figures (issue 15): lag from a delivered body, the peak rate, the summary and
// its backlog, and the report's section; the receiver against signatures made here.
import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { memoryBoundFor, isBoundedService, MEMORY_BOUNDS_MIB } from '../../bench/lib/memory-bounds.mjs';
import {
  deliveryLagMs,
  newLagHistogram,
  peakRate,
  startBenchWebhookReceiver,
  webhookMarkdown,
  webhookSummary,
  type WebhookCounts,
} from '../../bench/lib/webhooks.mjs';

const counts = (over: Partial<WebhookCounts> = {}): WebhookCounts => ({
  received: 0,
  valid: 0,
  invalid: 0,
  unknownPath: 0,
  noOccurredAt: 0,
  perSecond: new Map(),
  ...over,
});

describe('deliveryLagMs', () => {
  it('is the receipt time minus the event\'s occurredAt, never negative', () => {
    const at = Date.parse('2026-12-03T08:00:00.000Z');
    expect(deliveryLagMs(JSON.stringify({ eventId: 'e', occurredAt: '2026-12-03T08:00:00.000Z' }), at + 250)).toBe(250);
    expect(deliveryLagMs(JSON.stringify({ occurredAt: '2026-12-03T08:00:00.010Z' }), at)).toBe(0);
  });

  it('is undefined without a valid occurredAt or for a body that is not JSON', () => {
    expect(deliveryLagMs(JSON.stringify({ eventId: 'e' }), 1)).toBeUndefined();
    expect(deliveryLagMs(JSON.stringify({ occurredAt: 'yesterday' }), 1)).toBeUndefined();
    expect(deliveryLagMs('{not json', 1)).toBeUndefined();
    expect(deliveryLagMs('null', 1)).toBeUndefined();
  });
});

describe('peakRate', () => {
  it('is the best sum over any window of consecutive seconds, divided by the window', () => {
    const perSecond = new Map([[100, 10], [101, 30], [102, 20], [110, 5]]);
    expect(peakRate(perSecond, 2)).toBe(25);
    expect(peakRate(perSecond, 10)).toBe(6);
    // Seconds 101..110 hold 55: the window slides over gaps too.
    expect(peakRate(new Map([[100, 50], [109, 5], [110, 50]]), 10)).toBe(5.5);
    expect(peakRate(new Map())).toBe(0);
  });
});

describe('webhookSummary', () => {
  it('gives the rate over the receiving span, the lag percentiles and what is still undelivered', () => {
    const lag = newLagHistogram();
    for (let ms = 1; ms <= 100; ms++) lag.recordValue(ms * 10);
    const summary = webhookSummary(
      counts({ received: 1_002, valid: 1_000, invalid: 1, unknownPath: 1, firstAtMs: 10_000, lastAtMs: 20_000, perSecond: new Map([[10, 100]]) }),
      lag,
      { expectedEvents: 1_200, fannedOut: 1_150, succeeded: 1_000, pending: 150, failed: 0 },
    );
    expect(summary).toMatchObject({ received: 1_002, validSignatures: 1_000, invalidSignatures: 1, unknownPath: 1, receivingS: 10, deliveriesPerS: 100, peakDeliveriesPerS: 10 });
    expect(summary.lagMs.p50).toBe(500);
    expect(summary.lagMs.p99).toBe(990);
    expect(summary.lagMs.max).toBe(1_000);
    expect(summary.backlog).toMatchObject({ undelivered: 200, notFannedOut: 50, pending: 150 });
  });

  it('says nothing received as zeros and nulls, not as NaN', () => {
    const summary = webhookSummary(counts(), newLagHistogram(), undefined);
    expect(summary).toMatchObject({ deliveriesPerS: 0, peakDeliveriesPerS: 0, lagMs: { p50: null, p99: null, max: null, count: 0 }, backlog: undefined });
  });

  it('never counts more delivered than expected as a negative backlog', () => {
    const summary = webhookSummary(counts(), newLagHistogram(), { expectedEvents: 10, fannedOut: 12, succeeded: 12, pending: 0, failed: 0 });
    expect(summary.backlog).toMatchObject({ undelivered: 0, notFannedOut: 0 });
  });
});

describe('webhookMarkdown', () => {
  it('has one row at the load\'s end and one after the drain, and names the env', () => {
    const lag = newLagHistogram();
    lag.recordValue(40);
    const s = webhookSummary(counts({ received: 1, valid: 1, firstAtMs: 0, lastAtMs: 1_000 }), lag, { expectedEvents: 2, fannedOut: 2, succeeded: 1, pending: 1, failed: 0 });
    const lines = webhookMarkdown({ endpoints: 3, env: { WEBHOOK_ALLOW_LOOPBACK_URLS: 'true' }, atLoadEnd: s, afterDrain: { ...s, waitedS: 20, drained: false } });
    expect(lines.join('\n')).toContain('WEBHOOK_ALLOW_LOOPBACK_URLS=true');
    expect(lines.filter((l) => l.startsWith('| end of load'))).toHaveLength(1);
    expect(lines.find((l) => l.startsWith('| +20 s'))).toContain('**not drained**');
    expect(webhookMarkdown({ error: 'boom' }).join('\n')).toContain('Not measured: boom');
    expect(webhookMarkdown(undefined)).toEqual([]);
  });
});

describe('the bench receiver', () => {
  const secretBytes = Buffer.alloc(24, 7);
  const secret = `whsec_${secretBytes.toString('base64')}`;
  const sign = (id: string, ts: string, body: string, key = secretBytes) => `v1,${createHmac('sha256', key).update(`${id}.${ts}.${body}`).digest('base64')}`;

  it('answers 200, counts valid and invalid signatures and unknown paths, and records the lag', async () => {
    const receiver = await startBenchWebhookReceiver();
    try {
      receiver.setSecret('bench-w000', secret);
      const ts = String(Math.floor(Date.now() / 1000));
      const body = JSON.stringify({ eventId: 'e1', occurredAt: new Date(Date.now() - 100).toISOString() });
      const post = (path: string, signature: string) =>
        fetch(receiver.urlFor(path), { method: 'POST', body, headers: { 'content-type': 'application/json', 'webhook-id': 'msg_1', 'webhook-timestamp': ts, 'webhook-signature': signature } });
      expect((await post('bench-w000', sign('msg_1', ts, body))).status).toBe(200);
      expect((await post('bench-w000', sign('msg_1', ts, body, Buffer.alloc(24, 8)))).status).toBe(200);
      expect((await post('nobody', sign('msg_1', ts, body))).status).toBe(404);
      expect(receiver.counts).toMatchObject({ received: 3, valid: 1, invalid: 1, unknownPath: 1 });
      expect(receiver.lag.totalCount).toBe(1);
      expect(receiver.lag.maxValue).toBeGreaterThanOrEqual(99);
    } finally {
      await receiver.close();
    }
  });
});

describe('the webhook-service\'s memory bound', () => {
  it('is in the one table, as a plain Node service, and its name is a bounded service', () => {
    expect(isBoundedService('webhook-service')).toBe(true);
    expect(memoryBoundFor('webhook-service')).toBe(MEMORY_BOUNDS_MIB['webhook-service']);
    expect(MEMORY_BOUNDS_MIB['webhook-service']).toMatchObject({ growthMiBMax: 100, peakMiBMax: 512 });
  });
});
