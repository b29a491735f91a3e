// The token checks' share of CPU per transfer (issue 14), pure parts.
import { describe, expect, it } from 'vitest';
import { tokenChecksPerTransfer, tokenIssuer, verifyCpuUs } from '../../bench/lib/token-cost.mjs';

const cost = { cachedCpuUs: 10, uncachedCpuUs: 410 };

describe('verifyCpuUs', () => {
  it('weighs the cached and uncached cost by the hit rate, clamped to 0..1', () => {
    expect(verifyCpuUs(cost, 1)).toBe(10);
    expect(verifyCpuUs(cost, 0)).toBe(410);
    expect(verifyCpuUs(cost, 0.75)).toBe(110);
    expect(verifyCpuUs(cost, 7)).toBe(10);
  });
});

describe('tokenChecksPerTransfer', () => {
  it('counts one verification in the gateway and one in the bank, each at its own hit rate', () => {
    expect(tokenChecksPerTransfer(cost, { 'api-gateway': 1, 'bank-service': 0.5 })).toEqual({ cpuMs: 0.22, missesAssumedFor: [] });
  });

  it('counts a service that reports no hit rate as all misses (the upper bound) and names it', () => {
    expect(tokenChecksPerTransfer(cost, { 'api-gateway': 1 })).toEqual({ cpuMs: 0.42, missesAssumedFor: ['bank-service'] });
  });
});

describe('tokenIssuer', () => {
  const jwt = (payload: object) => `h.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.s`;

  it('reads iss and the (first) aud of a token', () => {
    expect(tokenIssuer(jwt({ iss: 'https://id', aud: ['wallet-api', 'x'] }))).toEqual({ issuer: 'https://id', audience: 'wallet-api' });
    expect(tokenIssuer(jwt({ iss: 'https://id', aud: 'wallet-api' }))).toEqual({ issuer: 'https://id', audience: 'wallet-api' });
  });

  it('refuses a token without them', () => {
    expect(() => tokenIssuer('nope')).toThrow('not a JWT');
    expect(() => tokenIssuer(jwt({ iss: 'https://id' }))).toThrow('no issuer or audience');
  });
});
