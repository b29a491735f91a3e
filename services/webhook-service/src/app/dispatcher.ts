// The dispatcher: claims due deliveries (heads of their (endpoint, account)
// queue, leased so replicas never send one twice at once), signs and sends
// them with bounded concurrency, and records each outcome: succeeded, retry
// later with backoff + jitter, or failed once the retry window is over.
// State lives in the table, so a restart or a crash loses nothing: an expired
// lease makes the delivery due again (at-least-once; receivers dedupe on webhook-id).
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { mapBounded, type Logger } from '@wallet/platform';
import { afterFailure, type AttemptOutcome, type RetryPolicy } from '../domain/delivery.js';
import { decryptSecret } from '../domain/secret-box.js';
import { signingVersions } from '../domain/secret-versions.js';
import { signedHeaders } from '../domain/signature.js';
import type { WebhookSender } from '../clients/webhook-sender.js';
import { claimDue, recordAttempt, type AttemptRecord, type ClaimedDelivery } from '../db/deliveries.js';

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/** Added to the delivery timeout to form the lease. */
const LEASE_MARGIN_MS = 5_000;

export interface DispatcherOptions {
  pool: pg.Pool;
  sender: WebhookSender;
  secretKey: Buffer;
  logger: Logger;
  retry: RetryPolicy;
  deliveryTimeoutMs: number;
  intervalMs: number;
  batchSizeMax: number;
  concurrencyMax: number;
  now?: () => Date;
  random?: () => number;
  onAttempt?: (outcome: AttemptRecord['status'], seconds: number) => void;
}

export class Dispatcher {
  private running = false;
  private loop: Promise<void> | undefined;
  private wakeUp: (() => void) | undefined;
  private readonly leaseToken = randomUUID();

  constructor(private readonly options: DispatcherOptions) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  /** New deliveries were stored: look now instead of at the next interval. */
  wake(): void {
    this.wakeUp?.();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.wakeUp?.();
    await this.loop;
  }

  /** One pass: claim a batch and send it; answers how many were claimed (tests drive it directly). */
  async runOnce(): Promise<number> {
    const { pool, batchSizeMax, deliveryTimeoutMs, concurrencyMax } = this.options;
    const claimed = await claimDue(pool, batchSizeMax, deliveryTimeoutMs + LEASE_MARGIN_MS, this.leaseToken);
    await mapBounded(claimed, concurrencyMax, (delivery) => this.deliver(delivery));
    return claimed.length;
  }

  private async run(): Promise<void> {
    let failures = 0;
    while (this.running) {
      let claimed = 0;
      try {
        claimed = await this.runOnce();
        failures = 0;
      } catch (error) {
        failures += 1;
        this.options.logger.error({ err: error, failures }, 'dispatch pass failed; retrying');
      }
      // A full batch: more may be due at once. Otherwise wait (bounded), or until woken.
      if (claimed < this.options.batchSizeMax || failures > 0) await this.pause(this.options.intervalMs * Math.min(2 ** failures, 32));
    }
  }

  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wakeUp = () => {
        this.wakeUp = undefined;
        done();
      };
    });
  }

  private async deliver(delivery: ClaimedDelivery): Promise<void> {
    const { logger } = this.options;
    const now = this.options.now ?? (() => new Date());
    const startedMs = performance.now();
    let outcome: AttemptOutcome;
    // The current secret and, during a rotation's grace period, the replaced one (newest first).
    const signers = signingVersions(delivery.secrets, now());
    const secretVersions = signers.map((signer) => signer.version);
    try {
      const secrets = signers.map((signer) => decryptSecret(this.options.secretKey, delivery.endpointId, signer.ciphertext, signer.version));
      const headers = signedHeaders(secrets, delivery.id, Math.floor(now().getTime() / 1000), delivery.body);
      outcome = await this.options.sender.send({ url: delivery.url, body: delivery.body, headers: { ...headers } });
    } catch (error) {
      // Never the secret or the key: only the kind of failure.
      logger.error({ deliveryId: delivery.id, err: { name: (error as Error)?.name } }, 'delivery could not be signed or sent');
      outcome = { kind: 'failed', statusCode: 0, error: 'internal error' };
    }
    const record = { ...this.recordOf(delivery, outcome, now()), secretVersions };
    this.options.onAttempt?.(record.status, (performance.now() - startedMs) / 1000);
    const kept = await recordAttempt(this.options.pool, delivery.id, delivery.leaseToken, record).catch((error: unknown) => {
      // The lease expires and the delivery is sent again: at-least-once.
      logger.warn({ err: error, deliveryId: delivery.id }, 'could not record a delivery attempt; it will be retried');
      return true;
    });
    if (!kept) logger.warn({ deliveryId: delivery.id }, 'delivery lease lost before the outcome was recorded');
    logger.debug({ deliveryId: delivery.id, endpointId: delivery.endpointId, attempts: delivery.attempts, status: record.status, statusCode: record.statusCode }, 'delivery attempt');
  }

  private recordOf(delivery: ClaimedDelivery, outcome: AttemptOutcome, now: Date): DistributiveOmit<AttemptRecord, 'secretVersions'> {
    if (outcome.kind === 'succeeded') return { status: 'succeeded', statusCode: outcome.statusCode };
    const next = afterFailure(delivery.attempts, now, delivery.giveUpAt, this.options.retry, (this.options.random ?? Math.random)());
    if (next.status === 'failed') return { status: 'failed', statusCode: outcome.statusCode, error: outcome.error };
    return { status: 'pending', statusCode: outcome.statusCode, error: outcome.error, nextAttemptAt: next.nextAttemptAt };
  }
}
