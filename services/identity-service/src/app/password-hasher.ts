// argon2id behind a bounded queue: hashing is CPU- and memory-heavy (tens to
// hundreds of ms on 2 cores), so at most concurrencyMax run at once, at most
// queueMax wait, and none waits longer than queueWaitMsMax. Beyond that the
// caller gets OverloadedError (503) instead of a growing backlog.
import { Algorithm, hash, verify } from '@node-rs/argon2';
import { randomBytes } from 'node:crypto';
import { SpanKind, withSpan } from '@wallet/platform/tracing';
import { OverloadedError } from '../domain/oauth-errors.js';
import { PASSWORD_CHARS_MAX } from '../domain/credentials.js';
import type { IdentityMetrics } from '../metrics.js';

export interface PasswordHasherOptions {
  concurrencyMax: number;
  queueMax: number;
  queueWaitMsMax: number;
  memoryKib: number;
  iterations: number;
}

interface Waiter {
  resolve(): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout;
}

/** Secrets longer than this are never hashed (UTF-8 bytes of 128 characters at most 4 bytes each). */
const SECRET_BYTES_MAX = PASSWORD_CHARS_MAX * 4;

export class PasswordHasher {
  private active = 0;
  private readonly waiting: Waiter[] = [];
  private dummyHash: string | undefined;

  constructor(
    private readonly options: PasswordHasherOptions,
    private readonly metrics: IdentityMetrics,
  ) {}

  async hash(secret: string): Promise<string> {
    assertBounded(secret);
    return this.run('hash', () =>
      hash(secret, { algorithm: Algorithm.Argon2id, memoryCost: this.options.memoryKib, timeCost: this.options.iterations, parallelism: 1 }),
    );
  }

  /** False for a wrong secret or a malformed stored hash. */
  async verify(storedHash: string, secret: string): Promise<boolean> {
    assertBounded(secret);
    return this.run('verify', () => verify(storedHash, secret).catch(() => false));
  }

  /**
   * Spends the same work as a real check against a hash nobody knows the
   * secret of, so an unknown username answers as slowly as a wrong password.
   */
  async verifyAgainstNobody(secret: string): Promise<false> {
    this.dummyHash ??= await this.hash(randomBytes(32).toString('base64url'));
    await this.verify(this.dummyHash, secret);
    return false;
  }

  /**
   * One span `password.hash` / `password.verify` per call, queue wait included
   * (an overloaded hasher shows as a long span with error.type OverloadedError).
   * Its attributes are the algorithm and cost only: never the secret or the hash.
   */
  private run<T>(operation: 'hash' | 'verify', work: () => Promise<T>): Promise<T> {
    const attributes = { 'password.algorithm': 'argon2id', 'password.argon2.memory_kib': this.options.memoryKib, 'password.argon2.iterations': this.options.iterations };
    return withSpan(`password.${operation}`, { kind: SpanKind.INTERNAL, attributes }, async (span) => {
      const queuedAtMs = performance.now();
      await this.acquire();
      span.setAttribute('password.queue_wait_ms', Math.round(performance.now() - queuedAtMs));
      const end = this.metrics.hashSeconds.startTimer({ operation });
      try {
        return await work();
      } finally {
        end();
        this.release();
      }
    });
  }

  private acquire(): Promise<void> {
    if (this.active < this.options.concurrencyMax) {
      this.active += 1;
      return Promise.resolve();
    }
    if (this.waiting.length >= this.options.queueMax) {
      this.metrics.hashRejected.inc({ reason: 'queue_full' });
      return Promise.reject(new OverloadedError());
    }
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        resolve,
        reject,
        timer: setTimeout(() => {
          const index = this.waiting.indexOf(waiter);
          if (index >= 0) this.waiting.splice(index, 1);
          this.metrics.hashQueueDepth.set(this.waiting.length);
          this.metrics.hashRejected.inc({ reason: 'wait_too_long' });
          reject(new OverloadedError());
        }, this.options.queueWaitMsMax),
      };
      this.waiting.push(waiter);
      this.metrics.hashQueueDepth.set(this.waiting.length);
    });
  }

  private release(): void {
    const next = this.waiting.shift();
    this.metrics.hashQueueDepth.set(this.waiting.length);
    if (next) {
      clearTimeout(next.timer); // the slot passes straight to the next waiter
      next.resolve();
    } else {
      this.active -= 1;
    }
  }
}

function assertBounded(secret: string): void {
  if (Buffer.byteLength(secret, 'utf8') > SECRET_BYTES_MAX) throw new RangeError('secret longer than the hashing bound');
}
