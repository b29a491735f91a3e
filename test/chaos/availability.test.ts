// Pure unit tests of what the chaos report says a client saw: error answers
// and the longest interval without a successful answer, per fault.
import { describe, expect, it } from 'vitest';
import { countClientErrors, faultsDuring, gapsOfFaults, isClientError, longestGap, replicaGap } from '../../scripts/chaos/availability.mjs';

const at = (kind: string, answeredAtMs: number, status: number | string = 200) => ({ kind, status, answeredAtMs });

describe('isClientError', () => {
  it('counts no answer, 5xx, 408, 409 and 429 as errors; business refusals and successes as answers', () => {
    for (const status of ['ECONNREFUSED', 'TimeoutError', 500, 502, 503, 408, 409, 429]) expect(isClientError({ status })).toBe(true);
    for (const status of [200, 201, 402, 422, 401]) expect(isClientError({ status })).toBe(false);
    expect(isClientError({})).toBe(true);
  });
});

describe('countClientErrors', () => {
  it('counts error answers per kind and status over client requests only (not derived events)', () => {
    const counted = countClientErrors([
      at('transfer', 1, 201),
      at('transfer', 2, 503),
      at('transfer', 3, 503),
      { ...at('topup', 3, 503), code: 'dependency-unavailable' },
      at('balance', 4, 'ECONNRESET'),
      at('topup', 5, 422),
      at('event', 6, 'whatever'),
    ]);
    expect(counted).toEqual({ total: 4, answers: 6, byKindStatus: { 'transfer 503': 2, 'topup 503 dependency-unavailable': 1, 'balance ECONNRESET': 1 } });
  });
});

describe('longestGap', () => {
  it('finds the longest interval between successes, including the window edges', () => {
    const answers = [at('transfer', 1_000, 201), at('transfer', 1_500, 503), at('transfer', 4_000, 201), at('balance', 2_000)];
    expect(longestGap(answers, { fromMs: 0, toMs: 5_000 })).toEqual({ gapMs: 2_000, fromMs: 2_000, toMs: 4_000 });
    expect(longestGap(answers, { fromMs: 0, toMs: 5_000, kinds: ['transfer'] })).toEqual({ gapMs: 3_000, fromMs: 1_000, toMs: 4_000 });
    expect(longestGap([], { fromMs: 100, toMs: 900 })).toEqual({ gapMs: 800, fromMs: 100, toMs: 900 });
  });
});

describe('gapsOfFaults', () => {
  const faults = [
    { name: 'kill -9 bank.2', affects: 'transfer', startedAtMs: 10_000, healedAtMs: 14_000 },
    { name: 'postgres immediate shutdown', affects: 'transfer', startedAtMs: 30_000, healedAtMs: 33_000 },
    { name: 'kill -9 gateway', affects: 'any', startedAtMs: 31_000, healedAtMs: 32_000 },
    { name: 'kill -9 relay leader', affects: 'event', startedAtMs: 50_000, healedAtMs: 52_000 },
  ];
  const answers = [
    at('transfer', 9_900, 201),
    at('transfer', 10_500, 503),
    at('transfer', 11_200, 201),
    at('transfer', 12_000, 201),
    at('transfer', 14_100, 201),
    at('balance', 29_800),
    at('transfer', 29_900, 201),
    at('balance', 31_500),
    at('transfer', 34_000, 201),
  ];

  it("measures each fault's longest gap of the kinds it affects, and the other faults that gap overlapped", () => {
    const [bank, postgres, gateway, relay] = gapsOfFaults(faults, answers);
    expect(bank).toMatchObject({ gapMs: 2_100, gapOverlaps: [] });
    expect(postgres).toMatchObject({ gapMs: 4_100, gapOverlaps: ['kill -9 gateway'] });
    expect(gateway).toMatchObject({ gapMs: 2_500, gapOverlaps: ['postgres immediate shutdown'] });
    expect(relay!.gapMs).toBeUndefined();
  });

  it('gives the replica number over replica kills only, leaving out gaps that overlapped an infrastructure fault and sampled kinds', () => {
    const more = [
      ...faults,
      { name: 'rotate certificate bank', affects: 'transfer', startedAtMs: 11_000, healedAtMs: 13_000 },
      { name: 'kill -9 identity.2', affects: 'login', startedAtMs: 60_000, healedAtMs: 62_000 },
      { name: 'kill -9 paymentGatewayMock', affects: 'topup', startedAtMs: 70_000, healedAtMs: 80_000 },
      { name: 'kill -9 paymentGatewayMock', affects: 'topup', startedAtMs: 70_000, healedAtMs: 80_000 },
    ];
    expect(replicaGap(gapsOfFaults(more, answers), { singles: ['kill -9 paymentGatewayMock'] })).toEqual({
      gapMs: 2_100,
      fault: 'kill -9 bank.2',
      measured: 1,
      excluded: ['kill -9 gateway'],
      sparse: ['kill -9 identity.2'],
    });
  });

  it('lists the faults whose window overlaps an interval', () => {
    expect(faultsDuring(faults, { fromMs: 13_000, toMs: 30_500 })).toEqual(['kill -9 bank.2', 'postgres immediate shutdown']);
  });
});
