// The group-commit queue's mechanics with an in-memory executor: batches from
// what is queued, bounded batches, workers and queue, duplicates, fairness
// per account, dropped deadlines and cancellations, shutdown.
import { getEventListeners } from 'node:events';
import { waitFor } from '@wallet/testkit';
import { describe, expect, it } from 'vitest';
import { GroupCommitQueue, type GroupCommitSettings, type Settled, type SubmitOptions } from '../../src/app/group-commit.js';

interface Req {
  key: string;
  value: number;
}

class Shed extends Error {
  constructor(readonly reason: string) {
    super(`shed: ${reason}`);
  }
}

class Dropped extends Error {
  constructor(readonly reason: string) {
    super(`dropped: ${reason}`);
  }
}

/** An executor whose batches stay open until the test releases them. */
function harness(
  settings: Partial<Omit<GroupCommitSettings, 'enabled'>> = {},
  execute?: (batch: Req[]) => Array<Settled<number>>,
  conflictKeysOf?: (request: Req) => string[],
) {
  const batches: Req[][] = [];
  const releases: Array<() => void> = [];
  let holding = false;
  let nowMs = 1_000_000;
  const queue = new GroupCommitQueue<Req, number>(
    { maxBatch: 4, queueMax: 100, workers: 2, lingerMs: 0, ...settings },
    {
      execute: async (batch) => {
        batches.push(batch);
        if (holding) await new Promise<void>((resolve) => releases.push(resolve));
        return execute ? execute(batch) : batch.map((r) => ({ ok: true, value: r.value * 10 }));
      },
      keyOf: (r) => r.key,
      ...(conflictKeysOf ? { conflictKeysOf } : {}),
      // The bank answers duplicates from storage; here: minus the value, held like batches.
      onDuplicate: async (r) => {
        if (holding) await new Promise<void>((resolve) => releases.push(resolve));
        return -r.value;
      },
      shed: (reason) => new Shed(reason),
      dropped: (reason) => new Dropped(reason),
    },
    () => nowMs,
  );
  return {
    queue,
    batches,
    hold: () => {
      holding = true;
    },
    releaseAll: () => {
      holding = false;
      for (const release of releases.splice(0)) release();
    },
    /** Lets the oldest held batch (or duplicate answer) finish; later ones stay held. */
    releaseOldest: () => releases.shift()?.(),
    advanceMs: (ms: number) => {
      nowMs += ms;
    },
    nowMs: () => nowMs,
    submit: (key: string, value = 1, options?: SubmitOptions) => queue.submit({ key, value }, options),
  };
}

async function outcome<T>(promise: Promise<T>): Promise<T | Error> {
  try {
    return await promise;
  } catch (error) {
    return error as Error;
  }
}

describe('GroupCommitQueue', () => {
  it('puts requests submitted in the same tick into one batch and answers each with its own result', async () => {
    const h = harness({ maxBatch: 10 });
    const results = await Promise.all([1, 2, 3].map((v) => h.submit(`k${v}`, v)));
    expect(results).toEqual([10, 20, 30]);
    expect(h.batches.map((b) => b.map((r) => r.key))).toEqual([['k1', 'k2', 'k3']]);
  });

  it('runs a lone request at once as a batch of one (no waiting for company)', async () => {
    const h = harness();
    expect(await h.submit('alone', 7)).toBe(70);
    expect(h.batches).toHaveLength(1);
  });

  it('bounds batch size and concurrent batches; later requests wait for a free worker', async () => {
    const h = harness({ maxBatch: 3, workers: 2 });
    h.hold();
    const all = Array.from({ length: 10 }, (_, i) => h.submit(`k${i}`, i));
    await waitFor(() => h.batches.length === 2, { what: 'two batches running' });
    expect(h.batches.map((b) => b.length)).toEqual([3, 3]);
    expect(h.queue.stats()).toEqual({ queued: 4, duplicatesAnswering: 0, batchesRunning: 2 });
    h.releaseAll();
    expect(await Promise.all(all)).toEqual(Array.from({ length: 10 }, (_, i) => i * 10));
    // FIFO: batches are formed in arrival order.
    expect(h.batches.flat().map((r) => r.value)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(h.batches.every((b) => b.length <= 3)).toBe(true);
  });

  it('sheds at once when the queue is full, counting duplicates still being answered', async () => {
    const h = harness({ maxBatch: 1, workers: 1, queueMax: 2 });
    h.hold();
    const running = h.submit('a');
    await waitFor(() => h.batches.length === 1, { what: 'the first batch to start' });
    const queued = h.submit('b');
    const duplicate = h.submit('b');
    const shed = await outcome(h.submit('c'));
    expect(shed).toBeInstanceOf(Shed);
    expect((shed as Shed).reason).toBe('queue_full');
    expect(h.queue.stats()).toEqual({ queued: 1, duplicatesAnswering: 1, batchesRunning: 1 });
    h.releaseAll();
    await waitFor(
      () => {
        h.releaseAll();
        return h.queue.stats().queued === 0 && h.queue.stats().batchesRunning === 0;
      },
      { what: 'the queue to drain' },
    );
    expect(await Promise.all([running, queued, duplicate])).toEqual([10, 10, -1]);
  });

  it('never puts two requests with the same key in one batch: later ones are answered as duplicates', async () => {
    const h = harness({ maxBatch: 10 });
    const results = await Promise.all([h.submit('x', 1), h.submit('x', 2), h.submit('y', 3), h.submit('x', 4)]);
    expect(results).toEqual([10, -2, 30, -4]);
    expect(h.batches.map((b) => b.map((r) => r.value))).toEqual([[1, 3]]);
  });

  it('never runs two batches touching the same account: requests for a busy account wait and coalesce, others use the free worker', async () => {
    // Keys "hot-1", "cold-2"...: the account is the part before the dash.
    const h = harness({ maxBatch: 10, workers: 2 }, undefined, (r) => [r.key.split('-')[0]!]);
    h.hold();
    const first = h.submit('hot-1', 1);
    await waitFor(() => h.batches.length === 1, { what: 'the first hot batch to start' });
    const later = [h.submit('hot-2', 2), h.submit('hot-3', 3), h.submit('cold-4', 4), h.submit('hot-5', 5)];
    await waitFor(() => h.batches.length === 2, { what: 'the cold batch to start' });
    // The second worker took only what does not conflict with the running batch.
    expect(h.batches[1]!.map((r) => r.key)).toEqual(['cold-4']);
    expect(h.queue.stats()).toMatchObject({ queued: 3, batchesRunning: 2 });
    h.releaseAll();
    await waitFor(
      () => {
        h.releaseAll();
        return h.queue.stats().queued === 0 && h.queue.stats().batchesRunning === 0;
      },
      { what: 'the queue to drain' },
    );
    expect(await Promise.all([first, ...later])).toEqual([10, 20, 30, 40, 50]);
    // The waiting hot requests formed one batch, in arrival order.
    expect(h.batches[2]!.map((r) => r.key)).toEqual(['hot-2', 'hot-3', 'hot-5']);
    expect(h.batches).toHaveLength(3);
  });

  it('runs a request with the same key as a new one once the first was answered', async () => {
    const h = harness();
    await h.submit('x', 1);
    expect(await h.submit('x', 2)).toBe(20);
    expect(h.batches).toHaveLength(2);
  });

  it('fails every request of a batch whose executor throws, and keeps serving', async () => {
    let calls = 0;
    const h = harness({}, (batch) => {
      calls += 1;
      if (calls === 1) throw new Error('executor bug');
      return batch.map((r) => ({ ok: true, value: r.value }));
    });
    const failed = await Promise.all([outcome(h.submit('a')), outcome(h.submit('b'))]);
    expect(failed.map((e) => (e as Error).message)).toEqual(['executor bug', 'executor bug']);
    expect(await h.submit('c', 5)).toBe(5);
  });

  it('with a linger, waits for a batch to fill before running a partial one', async () => {
    const h = harness({ maxBatch: 3, workers: 1, lingerMs: 20 });
    const first = h.submit('a', 1);
    await Promise.resolve();
    const second = h.submit('b', 2);
    // A full batch does not wait for the linger.
    const full = [h.submit('c', 3), h.submit('d', 4), h.submit('e', 5), h.submit('f', 6)];
    expect(await Promise.all([first, second, ...full])).toEqual([10, 20, 30, 40, 50, 60]);
    expect(h.batches.map((b) => b.length)).toEqual([3, 3]);
  });

  it('on close, lets the running batch finish and sheds what is queued and what comes later', async () => {
    const h = harness({ maxBatch: 2, workers: 1 });
    h.hold();
    const running = [h.submit('a'), h.submit('b')];
    await waitFor(() => h.batches.length === 1, { what: 'the first batch to start' });
    const queued = [outcome(h.submit('c')), outcome(h.submit('d'))];
    const closed = h.queue.close();
    expect((await Promise.all(queued)).map((e) => (e as Shed).reason)).toEqual(['closed', 'closed']);
    expect(((await outcome(h.submit('e'))) as Shed).reason).toBe('closed');
    h.releaseAll();
    await closed;
    expect(await Promise.all(running)).toEqual([10, 10]);
    expect(h.batches).toHaveLength(1);
    expect(h.queue.stats()).toEqual({ queued: 0, duplicatesAnswering: 0, batchesRunning: 0 });
  });

  it('rejects nonsensical settings', () => {
    const handlers = { execute: async () => [], keyOf: () => '', onDuplicate: async () => 0, shed: () => new Error(), dropped: () => new Error() };
    expect(() => new GroupCommitQueue({ maxBatch: 0, queueMax: 1, workers: 1, lingerMs: 0 }, handlers)).toThrow(RangeError);
    expect(() => new GroupCommitQueue({ maxBatch: 1, queueMax: 1, workers: 1, lingerMs: -1 }, handlers)).toThrow(RangeError);
  });

  it('never lets later requests on either account overtake a request blocked on a busy account (FIFO per account)', async () => {
    // "A:B-3" locks accounts A and B.
    const h = harness({ maxBatch: 10, workers: 3 }, undefined, (r) => r.key.split('-')[0]!.split(':'));
    h.hold();
    const running = [h.submit('A:X-1', 1), h.submit('B:Y-2', 2)];
    await waitFor(() => h.batches.length === 1, { what: 'the first batch' });
    expect(h.batches[0]!.map((r) => r.key)).toEqual(['A:X-1', 'B:Y-2']);
    // One batch holds A, X, B, Y. Split them: run A:X again alone after B:Y.
    h.releaseAll();
    await Promise.all(running);
    h.hold();
    const holdsA = h.submit('A:X-11', 11);
    await waitFor(() => h.batches.length === 2, { what: 'the batch holding A' });
    const holdsB = h.submit('B:Y-12', 12);
    await waitFor(() => h.batches.length === 3, { what: 'the batch holding B' });
    const victim = h.submit('A:B-3', 3);
    const later = [h.submit('A:Z-4', 4), h.submit('B:W-5', 5)];
    await Promise.resolve();
    // A becomes free while B is still held: nothing may take A before the victim.
    h.releaseOldest();
    await holdsA;
    await new Promise((resolve) => setImmediate(resolve));
    expect(h.batches.slice(3).flat().map((r) => r.key)).toEqual([]);
    h.releaseAll();
    await waitFor(
      () => {
        h.releaseAll();
        return h.queue.stats().queued === 0 && h.queue.stats().batchesRunning === 0;
      },
      { what: 'the queue to drain' },
    );
    expect(await Promise.all([holdsB, victim, ...later])).toEqual([120, 30, 40, 50]);
    expect(h.batches[3]!.map((r) => r.key)).toEqual(['A:B-3', 'A:Z-4', 'B:W-5']);
  });

  it('drops a queued request whose deadline passed before it runs: never executed, answered as dropped', async () => {
    const h = harness({ maxBatch: 1, workers: 1 });
    h.hold();
    const running = h.submit('a', 1);
    await waitFor(() => h.batches.length === 1, { what: 'the first batch' });
    const late = outcome(h.submit('b', 2, { deadlineMs: h.nowMs() + 100 }));
    const onTime = h.submit('c', 3, { deadlineMs: h.nowMs() + 10_000 });
    h.advanceMs(101);
    h.releaseAll();
    await waitFor(
      () => {
        h.releaseAll();
        return h.queue.stats().queued === 0 && h.queue.stats().batchesRunning === 0;
      },
      { what: 'the queue to drain' },
    );
    expect(await running).toBe(10);
    expect(((await late) as Dropped).reason).toBe('deadline');
    expect(await onTime).toBe(30);
    expect(h.batches.flat().map((r) => r.key)).toEqual(['a', 'c']);
  });

  it('refuses a request whose deadline already passed before it takes a queue slot', async () => {
    const h = harness();
    const late = outcome(h.submit('a', 1, { deadlineMs: h.nowMs() }));
    expect(h.queue.stats().queued).toBe(0);
    expect(((await late) as Dropped).reason).toBe('deadline');
    expect(h.batches).toEqual([]);
  });

  it('drops queued requests whose deadline passed instead of shedding a live request when the queue is full', async () => {
    const h = harness({ maxBatch: 1, workers: 1, queueMax: 2 });
    h.hold();
    const running = h.submit('a', 1);
    await waitFor(() => h.batches.length === 1, { what: 'the first batch' });
    const expired = [outcome(h.submit('b', 2, { deadlineMs: h.nowMs() + 100 })), outcome(h.submit('c', 3, { deadlineMs: h.nowMs() + 100 }))];
    h.advanceMs(101);
    const live = h.submit('d', 4, { deadlineMs: h.nowMs() + 10_000 });
    expect((await Promise.all(expired)).map((e) => (e as Dropped).reason)).toEqual(['deadline', 'deadline']);
    h.releaseAll();
    expect(await running).toBe(10);
    expect(await live).toBe(40);
    expect(h.batches.flat().map((r) => r.key)).toEqual(['a', 'd']);
  });

  it('answers a queued request cancelled after its deadline passed as expired, not cancelled', async () => {
    const h = harness({ maxBatch: 1, workers: 1 });
    h.hold();
    const running = h.submit('a', 1);
    await waitFor(() => h.batches.length === 1, { what: 'the first batch' });
    const controller = new AbortController();
    const late = outcome(h.submit('b', 2, { deadlineMs: h.nowMs() + 100, signal: controller.signal }));
    h.advanceMs(100);
    controller.abort(); // what grpc-js does when the call's deadline passes
    expect(((await late) as Dropped).reason).toBe('deadline');
    h.releaseAll();
    expect(await running).toBe(10);
  });

  it('drops a queued request at once when its caller cancels, freeing its queue slot', async () => {
    const h = harness({ maxBatch: 1, workers: 1, queueMax: 2 });
    h.hold();
    const running = h.submit('a', 1);
    await waitFor(() => h.batches.length === 1, { what: 'the first batch' });
    const controller = new AbortController();
    const cancelled = outcome(h.submit('b', 2, { signal: controller.signal }));
    expect(h.queue.stats().queued).toBe(1);
    controller.abort();
    expect(((await cancelled) as Dropped).reason).toBe('cancelled');
    expect(h.queue.stats().queued).toBe(0);
    h.releaseAll();
    expect(await running).toBe(10);
    expect(h.batches.flat().map((r) => r.key)).toEqual(['a']);
    // The key is free again: a retry runs.
    expect(await h.submit('b', 2)).toBe(20);
  });
});

describe('group commit bookkeeping', () => {
  const plainQueue = (onTaken?: (waitedMs: number) => void) =>
    new GroupCommitQueue<Req, number>(
      { maxBatch: 4, queueMax: 100, workers: 1, lingerMs: 0 },
      {
        execute: async (batch) => batch.map((r) => ({ ok: true, value: r.value })),
        keyOf: (r) => r.key,
        onDuplicate: async (r) => r.value,
        shed: (reason) => new Shed(reason),
        dropped: (reason) => new Dropped(reason),
        ...(onTaken ? { onTaken } : {}),
      },
    );

  it('tells how long each request waited for its batch, once per request', async () => {
    const waits: number[] = [];
    const queue = plainQueue((waitedMs) => waits.push(waitedMs));
    await Promise.all([queue.submit({ key: 'a', value: 1 }), queue.submit({ key: 'b', value: 2 }), queue.submit({ key: 'c', value: 3 })]);
    expect(waits).toHaveLength(3);
    for (const waitedMs of waits) expect(waitedMs).toBeGreaterThanOrEqual(0);
  });

  it('stops listening to a request\'s abort signal once it is answered', async () => {
    const queue = plainQueue();
    const controller = new AbortController();
    expect(await queue.submit({ key: 'a', value: 1 }, { signal: controller.signal })).toBe(1);
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
  });
});
