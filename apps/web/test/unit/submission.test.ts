import { describe, expect, it } from 'vitest';
import { outcomeOfStatus, SubmissionKeys } from '../../src/lib/submission';

describe('one Idempotency-Key per form submission', () => {
  const counter = () => {
    let n = 0;
    return () => `key-${++n}`;
  };

  it('keeps the key across retries of the same submission until the API decides', () => {
    const keys = new SubmissionKeys(counter());
    expect(keys.keyFor('pay bob 10.00')).toBe('key-1');
    // Double click / network error / 503: the same submission carries the same key.
    keys.settle(outcomeOfStatus('network'));
    expect(keys.keyFor('pay bob 10.00')).toBe('key-1');
    keys.settle(outcomeOfStatus(503));
    keys.settle(outcomeOfStatus(409));
    expect(keys.keyFor('pay bob 10.00')).toBe('key-1');
    // Decided: the next payment of the same amount is a new payment.
    keys.settle(outcomeOfStatus(201));
    expect(keys.keyFor('pay bob 10.00')).toBe('key-2');
  });

  it('gives changed details a new key', () => {
    const keys = new SubmissionKeys(counter());
    expect(keys.keyFor('pay bob 10.00')).toBe('key-1');
    expect(keys.keyFor('pay bob 11.00')).toBe('key-2');
  });

  it('treats business refusals as final and unknown outcomes as retryable', () => {
    for (const status of [201, 400, 402, 403, 404, 422]) expect(outcomeOfStatus(status)).toBe('final');
    for (const status of ['network', 409, 429, 500, 502, 503, 504] as const) expect(outcomeOfStatus(status)).toBe('retry-same-key');
  });

  it('uses crypto.randomUUID by default', () => {
    expect(new SubmissionKeys().keyFor('x')).toMatch(/^[0-9a-f-]{36}$/);
  });
});
