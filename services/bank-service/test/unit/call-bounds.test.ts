// The caller's bounds on a gRPC call (servicer.ts callBounds): a cancelled call aborts its
// request's signal, and an answered call no longer does (grpc-js reports the close of every
// call's stream as 'cancelled', answered ones too).
import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { callBounds } from '../../src/grpc/servicer.js';

type BoundedCall = Parameters<typeof callBounds>[0];

function fakeCall(deadline: Date | number = Infinity): EventEmitter & BoundedCall {
  return Object.assign(new EventEmitter(), { cancelled: false, getDeadline: () => deadline }) as unknown as EventEmitter & BoundedCall;
}

describe('callBounds', () => {
  it('aborts the signal when the caller cancels before the answer', () => {
    const call = fakeCall();
    const bounds = callBounds(call);
    call.emit('cancelled', 'cancelled');
    expect(bounds.signal?.aborted).toBe(true);
  });

  it('does not abort once the call was answered (the stream close grpc-js reports as cancelled)', () => {
    const call = fakeCall();
    const bounds = callBounds(call);
    bounds.answered();
    call.emit('cancelled', 'cancelled');
    expect(bounds.signal?.aborted).toBe(false);
    expect(call.listenerCount('cancelled')).toBe(0);
  });

  it('calls each abort listener once on cancellation, and not one removed before', () => {
    const call = fakeCall();
    const bounds = callBounds(call);
    let kept = 0;
    let removed = 0;
    const keep = () => (kept += 1);
    const remove = () => (removed += 1);
    bounds.signal!.addEventListener('abort', keep, { once: true });
    bounds.signal!.addEventListener('abort', remove, { once: true });
    bounds.signal!.removeEventListener('abort', remove);
    call.emit('cancelled', 'cancelled');
    call.emit('cancelled', 'cancelled');
    expect([kept, removed]).toEqual([1, 0]);
  });

  it('carries the deadline in epoch milliseconds, and none for an infinite one', () => {
    expect(callBounds(fakeCall(new Date(1_700_000_000_000))).deadlineMs).toBe(1_700_000_000_000);
    expect(callBounds(fakeCall()).deadlineMs).toBeUndefined();
  });

  it('is aborted at once for a call already cancelled', () => {
    const call = fakeCall();
    Object.assign(call, { cancelled: true });
    expect(callBounds(call).signal?.aborted).toBe(true);
  });
});
