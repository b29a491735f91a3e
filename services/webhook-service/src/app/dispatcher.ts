// The dispatcher: claims due deliveries (heads of their (endpoint, account)
// queue, leased so replicas never send one twice at once), signs and sends
// them, and records each outcome: succeeded, retry later with backoff +
// jitter, or failed once the retry window is over.
// It is a pipeline, not a sequence of batches: up to concurrencyMax sends are
// in flight, and a slot freed by any send is filled by the next claim. So a
// slow or hanging receiver holds back only its own queue (and at most
// endpointConcurrencyMax slots), never every other account's deliveries: a
// batch that waited for its slowest send capped throughput at one delivery
// per account per slowest send (~25/s in the full chaos run, behind a ~50/s event rate).
// State lives in the table, so a restart or a crash loses nothing: an expired
// lease makes the delivery due again (at-least-once; receivers dedupe on webhook-id).
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import type { Logger } from '@wallet/platform';
import { afterFailure, type AttemptOutcome, type RetryPolicy } from '../domain/delivery.js';
import { decryptSecret } from '../domain/secret-box.js';
import { signingVersions } from '../domain/secret-versions.js';
import { signedHeaders } from '../domain/signature.js';
import type { WebhookSender } from '../clients/webhook-sender.js';
import { claimDue, recordAttempt, repairHeads, type AttemptRecord, type ClaimedDelivery } from '../db/deliveries.js';

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/** Added to the delivery timeout to form the lease. */
const LEASE_MARGIN_MS = 5_000;
/** How often the queue-head safety net runs (db/deliveries.ts repairHeads: it reads every pending delivery). */
const HEAD_REPAIR_INTERVAL_MS = 60_000;

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
  /** Sends in flight to one endpoint at most (fairness: a slow receiver cannot take every slot). */
  endpointConcurrencyMax: number;
  now?: () => Date;
  random?: () => number;
  onAttempt?: (outcome: AttemptRecord['status'], seconds: number) => void;
}

export class Dispatcher {
  private running = false;
  private loop: Promise<void> | undefined;
  private wakeUp: (() => void) | undefined;
  /** A wake() that came while the loop was busy: the next pause returns at once. */
  private woken = false;
  private readonly leaseToken = randomUUID();
  private readonly inFlight = new Set<Promise<void>>();
  /** Sends in flight per endpoint id. */
  private readonly perEndpoint = new Map<string, number>();

  constructor(private readonly options: DispatcherOptions) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  /** New deliveries were stored, or a send finished (its queue has a new head): look now, not at the next interval. */
  wake(): void {
    if (this.wakeUp) this.wakeUp();
    else this.woken = true;
  }

  /** Stops claiming and waits for the sends in flight (each bounded by the delivery timeout). */
  async stop(): Promise<void> {
    this.running = false;
    this.wake();
    await this.loop;
  }

  private async run(): Promise<void> {
    const { intervalMs, batchSizeMax, concurrencyMax } = this.options;
    let failures = 0;
    let repairDueMs = 0;
    while (this.running) {
      if (performance.now() >= repairDueMs) {
        repairDueMs = performance.now() + HEAD_REPAIR_INTERVAL_MS;
        await this.repair();
      }
      const free = concurrencyMax - this.inFlight.size;
      let asked = 0;
      let claimed = 0;
      if (free > 0) {
        asked = Math.min(free, batchSizeMax);
        try {
          claimed = this.launch(await this.claim(asked));
          failures = 0;
        } catch (error) {
          failures += 1;
          this.options.logger.error({ err: error, failures }, 'dispatch claim failed; retrying');
        }
      }
      if (failures > 0) await this.pause(intervalMs * Math.min(2 ** failures, 32));
      // Every slot taken, or fewer due than asked: wait for a send to finish, new deliveries, or the interval.
      else if (free <= 0 || claimed < asked) await this.pause(intervalMs);
      // A full claim with slots left: more may be due at once.
    }
    await Promise.allSettled([...this.inFlight]);
  }

  /** The safety net: queues left with no head (only a process of an older release does that) get one. */
  private async repair(): Promise<void> {
    try {
      const repaired = await repairHeads(this.options.pool);
      if (repaired > 0) this.options.logger.warn({ repaired }, 'delivery queues without a head repaired');
    } catch (error) {
      // Only a delay for such queues: the next round tries again.
      this.options.logger.warn({ err: error }, 'queue-head repair failed; retrying later');
    }
  }

  private claim(limit: number): Promise<ClaimedDelivery[]> {
    const { pool, deliveryTimeoutMs, endpointConcurrencyMax } = this.options;
    return claimDue(pool, {
      limit,
      leaseMs: deliveryTimeoutMs + LEASE_MARGIN_MS,
      leaseToken: this.leaseToken,
      endpointShare: endpointConcurrencyMax,
      busy: this.perEndpoint,
    });
  }

  /** Starts a send per claimed delivery; answers how many. */
  private launch(claimed: readonly ClaimedDelivery[]): number {
    for (const delivery of claimed) {
      this.perEndpoint.set(delivery.endpointId, (this.perEndpoint.get(delivery.endpointId) ?? 0) + 1);
      const send: Promise<void> = this.deliver(delivery)
        .catch((error: unknown) => this.options.logger.error({ err: error, deliveryId: delivery.id }, 'delivery failed unexpectedly'))
        .finally(() => {
          this.inFlight.delete(send);
          const left = (this.perEndpoint.get(delivery.endpointId) ?? 1) - 1;
          if (left > 0) this.perEndpoint.set(delivery.endpointId, left);
          else this.perEndpoint.delete(delivery.endpointId);
          this.wake();
        });
      this.inFlight.add(send);
    }
    return claimed.length;
  }

  private pause(ms: number): Promise<void> {
    if (this.woken || !this.running) {
      this.woken = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wakeUp = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wakeUp = done;
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
    const kept = await recordAttempt(this.options.pool, delivery, record).catch((error: unknown) => {
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
