import { describe, expect, it } from 'vitest';
import { usableAddresses } from '../../src/grpc/resolver.js';

const timedOut = { reason: 'DEADLINE_EXCEEDED: Deadline exceeded', timedOut: true };
const notServing = { reason: 'NOT_SERVING', timedOut: false };
const refused = { reason: 'UNAVAILABLE: No connection established', timedOut: false };

describe('usableAddresses (which replicas the balancer gets)', () => {
  it('hands over only the SERVING replicas when there is one', () => {
    expect(usableAddresses(['a', 'b', 'c'], [null, timedOut, notServing])).toEqual({ usable: ['a'], fallback: false });
  });

  it('falls back to the replicas whose probe only timed out when none is SERVING (slow is not down)', () => {
    expect(usableAddresses(['a', 'b', 'c'], [timedOut, notServing, timedOut])).toEqual({ usable: ['a', 'c'], fallback: true });
  });

  it('keeps draining and unreachable replicas out even then: no replica to call means fail fast', () => {
    expect(usableAddresses(['a', 'b'], [notServing, refused])).toEqual({ usable: [], fallback: false });
  });
});
