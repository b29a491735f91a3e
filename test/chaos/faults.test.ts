// Pure unit tests of the nemesis schedule with replicas (issue 13): one
// replica of each kind killed per round, a different one each round, plus the
// relay leader; without replicas the schedule stays as it was.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readsRelayLeader, scheduleRound } from '../../scripts/chaos/faults.mjs';

const keys = ['identity', 'bank', 'paymentGatewayMock', 'analytics', 'cardAdapter', 'gateway'];
const instances = {
  identity: ['identity', 'identity.2'],
  bank: ['bank', 'bank.2'],
  paymentGatewayMock: ['paymentGatewayMock'],
  analytics: ['analytics', 'analytics.2'],
  cardAdapter: ['cardAdapter', 'cardAdapter.2'],
  gateway: ['gateway', 'gateway.2'],
};
const kills = (round: number) =>
  scheduleRound(keys, { pauseMs: 4_000, instances, round })
    .flat()
    .filter((f) => f.kind === 'killService')
    .map((f) => f.arg);

describe('scheduleRound with replicas', () => {
  it('kills one replica of each kind per round, and the other one the next round', () => {
    const first = kills(0);
    const second = kills(1);
    expect(first).toHaveLength(keys.length);
    for (const key of keys) {
      const mine = (k: unknown) => instances[key as keyof typeof instances].includes(k as string);
      expect(first.filter(mine)).toHaveLength(1);
      if (key !== 'paymentGatewayMock') expect(second.find(mine)).not.toBe(first.find(mine));
    }
    // Not always replica 1: both replicas are killed within one round across the kinds.
    expect(first.some((k) => String(k).endsWith('.2'))).toBe(true);
    expect(first.some((k) => !String(k).includes('.'))).toBe(true);
  });

  it('kills the relay leader (resolved when injected) on the event path, only when the bank has replicas', () => {
    const relay = scheduleRound(keys, { pauseMs: 4_000, instances }).flat().filter((f) => f.kind === 'killRelayLeader');
    expect(relay).toEqual([{ name: 'kill -9 relay leader', kind: 'killRelayLeader', affects: 'event' }]);
    expect(scheduleRound(keys, { pauseMs: 4_000 }).flat().some((f) => f.kind === 'killRelayLeader')).toBe(false);
  });

  it('leaves the single-instance schedule as it was (instance key = service key)', () => {
    const names = scheduleRound(keys, { pauseMs: 4_000 }).flat().filter((f) => f.kind === 'killService').map((f) => f.name);
    expect(names).toEqual(['kill -9 identity', 'kill -9 bank', 'kill -9 paymentGatewayMock', 'kill -9 cardAdapter', 'kill -9 gateway', 'kill -9 analytics']);
  });
});

describe('readsRelayLeader', () => {
  let server: Server;
  let body = '';
  beforeAll(async () => {
    server = createServer((_req, res) => res.end(body));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const port = () => (server.address() as AddressInfo).port;

  it('reads the bank_outbox_relay_leader gauge from an ops /metrics page, with or without labels', async () => {
    body = '# TYPE bank_outbox_relay_leader gauge\nbank_outbox_relay_leader 1\n';
    expect(await readsRelayLeader(port())).toBe(true);
    body = 'bank_outbox_relay_leader{replica="2"} 0\n';
    expect(await readsRelayLeader(port())).toBe(false);
    body = 'other_metric 1\n';
    expect(await readsRelayLeader(port())).toBeUndefined();
  });
});
