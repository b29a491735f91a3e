// Group commit: concurrent requests wait in one bounded FIFO queue; at most
// `workers` batches run at a time, each taking up to `maxBatch` of what is
// already queued (no waiting for a batch to fill unless `lingerMs` > 0). One
// batch = one transaction = one commit, so a hot account's throughput is no
// longer capped at one transfer per commit latency. The queue itself knows
// nothing about money: `execute` runs a batch and returns one result per
// request, in order; a request whose key is already queued or running is
// answered by `onDuplicate` (never executed twice); requests sharing a
// conflict key (an account) are never in two batches running at the same
// time, and are taken in arrival order per conflict key (FIFO per account):
// a request blocked on one of its accounts reserves its other accounts too,
// so later requests cannot overtake it forever (no starvation).

export type { Settled } from '@wallet/platform';
import type { Settled } from '@wallet/platform';

export interface GroupCommitSettings {
  enabled: boolean;
  /** Requests per batch (per transaction). */
  maxBatch: number;
  /** Requests allowed to wait (duplicates being answered included); more are shed at once. */
  queueMax: number;
  /** Batches (transactions, so pooled connections) running at the same time. */
  workers: number;
  /** Wait this long for a batch to fill before running a partial one; 0 = never wait. */
  lingerMs: number;
}

export const GROUP_COMMIT_DEFAULTS: Readonly<GroupCommitSettings> = {
  enabled: true,
  maxBatch: 128,
  queueMax: 1_000,
  workers: 4,
  lingerMs: 0,
};

/** What the queue needs of a cancellation source: an AbortSignal has it, and so has the servicer's per-call one. */
export interface CancelSignal {
  readonly aborted: boolean;
  addEventListener(type: 'abort', listener: () => void, options?: { once?: boolean }): void;
  removeEventListener(type: 'abort', listener: () => void): void;
}

/** The caller's bounds: a request whose deadline passed or whose caller cancelled is dropped before it runs. */
export interface SubmitOptions {
  /** Epoch milliseconds; absent = no deadline. */
  deadlineMs?: number;
  signal?: CancelSignal;
}

export interface GroupCommitHandlers<Req, Res> {
  /** Runs one batch; one result per request, same order. Should not throw (a throw fails every request of the batch). */
  execute(batch: Req[]): Promise<Array<Settled<Res>>>;
  /** Requests with equal keys are never executed in the same batch. */
  keyOf(request: Req): string;
  /** Resources the request's transaction locks (account ids); two running batches never share one. */
  conflictKeysOf?(request: Req): readonly string[];
  /** The answer for a request whose key is already queued or running (the bank answers from storage). */
  onDuplicate(request: Req): Promise<Res>;
  /** The error of a request shed because the queue is full or closed. */
  shed(reason: 'queue_full' | 'closed'): unknown;
  /** The error of a queued request dropped unexecuted. */
  dropped(reason: 'deadline' | 'cancelled'): unknown;
  /** Told, per request, how long it waited in the queue before its batch started (metrics). */
  onTaken?(waitedMs: number): void;
}

/** How far past a full batch the queue is scanned for requests not blocked by running batches. */
const SCAN_WINDOW_BATCHES = 4;

interface Entry<Req, Res> {
  request: Req;
  key: string;
  conflictKeys: readonly string[];
  deadlineMs: number | undefined;
  signal: CancelSignal | undefined;
  settle(result: Settled<Res>): void;
  /** Stops listening to the caller's signal (once settled: nothing left to drop). */
  release(): void;
  /** performance.now() when queued (the queue wait histogram). */
  queuedAtMs: number;
}

export interface GroupCommitStats {
  /** Requests waiting for a batch. */
  queued: number;
  /** Duplicates of a queued or running key being answered from storage. */
  duplicatesAnswering: number;
  batchesRunning: number;
}

export class GroupCommitQueue<Req, Res> {
  private readonly queue: Array<Entry<Req, Res>> = [];
  /** Keys of queued or running requests. */
  private readonly activeKeys = new Set<string>();
  /** Conflict keys held by running batches (disjoint sets, so a set suffices). */
  private readonly held = new Set<string>();
  private duplicatesAnswering = 0;
  private batchesRunning = 0;
  private pumpScheduled = false;
  private lingerTimer: NodeJS.Timeout | undefined;
  private lingerElapsed = false;
  private closed = false;
  private readonly idleWaiters: Array<() => void> = [];

  constructor(
    private readonly settings: Omit<GroupCommitSettings, 'enabled'>,
    private readonly handlers: GroupCommitHandlers<Req, Res>,
    private readonly nowMs: () => number = Date.now,
  ) {
    for (const [name, value] of Object.entries({ maxBatch: settings.maxBatch, queueMax: settings.queueMax, workers: settings.workers })) {
      if (!Number.isInteger(value) || value < 1) throw new RangeError(`group commit ${name} must be a positive integer, got ${value}`);
    }
    if (!(settings.lingerMs >= 0)) throw new RangeError(`group commit lingerMs must be >= 0, got ${settings.lingerMs}`);
  }

  /** Queues a request (synchronously, so requests submitted in one tick can share a batch). */
  submit(request: Req, options: SubmitOptions = {}): Promise<Res> {
    if (this.closed) return Promise.reject(this.handlers.shed('closed'));
    // Work the caller can no longer use is refused before it takes a slot.
    if (options.deadlineMs !== undefined && options.deadlineMs <= this.nowMs()) return Promise.reject(this.handlers.dropped('deadline'));
    if (options.signal?.aborted) return Promise.reject(this.handlers.dropped('cancelled'));
    // A full queue first lets go of requests whose callers already gave up, so live ones are not shed behind dead ones.
    if (this.queue.length + this.duplicatesAnswering >= this.settings.queueMax) this.dropExpired();
    if (this.queue.length + this.duplicatesAnswering >= this.settings.queueMax) return Promise.reject(this.handlers.shed('queue_full'));
    const key = this.handlers.keyOf(request);
    if (this.activeKeys.has(key)) return this.answerDuplicate(request);
    return new Promise<Res>((resolve, reject) => {
      const { signal } = options;
      // A cancelled caller leaves the queue at once (its slot is free again). gRPC cancels a call whose
      // deadline passed too: that is an expiry, not a cancellation.
      const onAbort = () => this.dropIfQueued(entry, this.isExpired(entry, this.nowMs()) ? 'deadline' : 'cancelled');
      const entry: Entry<Req, Res> = {
        request,
        key,
        conflictKeys: this.handlers.conflictKeysOf?.(request) ?? [],
        deadlineMs: options.deadlineMs,
        signal,
        settle: (result) => (result.ok ? resolve(result.value) : reject(result.error)),
        release: () => signal?.removeEventListener('abort', onAbort),
        queuedAtMs: performance.now(),
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.activeKeys.add(key);
      this.queue.push(entry);
      this.schedulePump();
    });
  }

  stats(): GroupCommitStats {
    return { queued: this.queue.length, duplicatesAnswering: this.duplicatesAnswering, batchesRunning: this.batchesRunning };
  }

  /**
   * Shutdown, after the server stopped taking calls: running batches finish;
   * requests still queued (and new ones) are shed without being executed, so
   * a retry with the same key is safe. Resolves when no batch is running.
   */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.lingerTimer);
    this.lingerTimer = undefined;
    for (const entry of this.queue.splice(0)) this.finish(entry, { ok: false, error: this.handlers.shed('closed') });
    if (this.isIdle()) return;
    await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
  }

  private async answerDuplicate(request: Req): Promise<Res> {
    this.duplicatesAnswering += 1;
    try {
      return await this.handlers.onDuplicate(request);
    } finally {
      this.duplicatesAnswering -= 1;
    }
  }

  private dropIfQueued(entry: Entry<Req, Res>, reason: 'deadline' | 'cancelled'): void {
    const index = this.queue.indexOf(entry);
    if (index < 0) return; // already running or answered
    this.queue.splice(index, 1);
    this.finish(entry, { ok: false, error: this.handlers.dropped(reason) });
  }

  private isExpired(entry: Entry<Req, Res>, nowMs: number): boolean {
    return entry.deadlineMs !== undefined && entry.deadlineMs <= nowMs;
  }

  /** Drops every queued request whose deadline passed (one pass over the bounded queue). */
  private dropExpired(): void {
    const nowMs = this.nowMs();
    const live = this.queue.filter((entry) => !this.isExpired(entry, nowMs));
    if (live.length === this.queue.length) return;
    const expired = this.queue.filter((entry) => this.isExpired(entry, nowMs));
    this.queue.splice(0, this.queue.length, ...live);
    for (const entry of expired) this.finish(entry, { ok: false, error: this.handlers.dropped('deadline') });
  }

  private finish(entry: Entry<Req, Res>, result: Settled<Res>): void {
    this.activeKeys.delete(entry.key);
    entry.release();
    entry.settle(result);
  }

  private isIdle(): boolean {
    return this.batchesRunning === 0 && this.queue.length === 0;
  }

  // A microtask, not a timer: requests that arrive in the same tick share the
  // first batch, and nothing waits for the clock.
  private schedulePump(): void {
    if (this.pumpScheduled) return;
    this.pumpScheduled = true;
    queueMicrotask(() => {
      this.pumpScheduled = false;
      this.pump();
    });
  }

  private pump(): void {
    while (this.batchesRunning < this.settings.workers && this.queue.length > 0) {
      if (this.settings.lingerMs > 0 && this.queue.length < this.settings.maxBatch && !this.lingerElapsed) {
        this.lingerTimer ??= setTimeout(() => {
          this.lingerTimer = undefined;
          this.lingerElapsed = true;
          try {
            this.pump();
          } finally {
            this.lingerElapsed = false;
          }
        }, this.settings.lingerMs);
        return;
      }
      const { batch, conflictKeys } = this.takeBatch();
      // Everything eligible is blocked by running batches; their end pumps again.
      if (batch.length === 0) return;
      this.batchesRunning += 1;
      void this.runBatch(batch).finally(() => {
        for (const key of conflictKeys) this.held.delete(key);
        this.batchesRunning -= 1;
        if (this.queue.length > 0) this.schedulePump();
        if (this.isIdle()) for (const resolve of this.idleWaiters.splice(0)) resolve();
      });
    }
  }

  /**
   * Up to maxBatch requests in arrival order. A request is skipped (keeps its
   * place) when one of its conflict keys is held by a running batch or
   * reserved by an earlier skipped request: per conflict key, requests run in
   * arrival order. Requests whose caller's deadline passed are dropped here,
   * unexecuted. The scan is bounded, so a blocked head costs O(maxBatch).
   */
  private takeBatch(): { batch: Array<Entry<Req, Res>>; conflictKeys: Set<string> } {
    const window = this.queue.splice(0, this.settings.maxBatch * SCAN_WINDOW_BATCHES);
    const batch: Array<Entry<Req, Res>> = [];
    const kept: Array<Entry<Req, Res>> = [];
    const conflictKeys = new Set<string>();
    const reserved = new Set<string>();
    const nowMs = this.nowMs();
    for (const entry of window) {
      if (this.isExpired(entry, nowMs)) {
        this.finish(entry, { ok: false, error: this.handlers.dropped('deadline') });
        continue;
      }
      const blocked =
        batch.length >= this.settings.maxBatch || entry.conflictKeys.some((key) => this.held.has(key) || reserved.has(key));
      if (blocked) {
        kept.push(entry);
        for (const key of entry.conflictKeys) reserved.add(key);
        continue;
      }
      batch.push(entry);
      for (const key of entry.conflictKeys) conflictKeys.add(key);
    }
    this.queue.unshift(...kept);
    for (const key of conflictKeys) this.held.add(key);
    if (this.handlers.onTaken) {
      const takenAtMs = performance.now();
      for (const entry of batch) this.handlers.onTaken(takenAtMs - entry.queuedAtMs);
    }
    return { batch, conflictKeys };
  }

  private async runBatch(batch: Array<Entry<Req, Res>>): Promise<void> {
    let results: Array<Settled<Res>>;
    try {
      results = await this.handlers.execute(batch.map((entry) => entry.request));
      if (results.length !== batch.length) throw new Error(`group commit: ${results.length} results for a batch of ${batch.length}`);
    } catch (error) {
      results = batch.map(() => ({ ok: false, error }));
    }
    for (const [index, entry] of batch.entries()) this.finish(entry, results[index]!);
  }
}
