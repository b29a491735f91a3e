// Finishes what crashed or failed requests left behind: on start and then
// every interval, claims unfinished top-ups (one at a time, SKIP LOCKED, lease
// expired) and completes or compensates each. Passes never overlap.

import type { Logger } from '@wallet/platform';
import type { TopUpRepository } from '../db/top-ups.js';
import type { AdapterMetrics } from '../metrics.js';
import type { TopUpProcessor } from './processor.js';

export interface RecoveryOptions {
  intervalMs: number;
  /** Most top-ups handled per pass, so a pass always ends. */
  batchSize: number;
}

export class RecoveryLoop {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<number> | undefined;
  private stopping = false;

  constructor(
    private readonly processor: TopUpProcessor,
    private readonly repository: TopUpRepository,
    private readonly metrics: AdapterMetrics,
    private readonly options: RecoveryOptions,
    private readonly logger: Logger,
  ) {}

  /** Runs a pass now, then one every interval until stop(). */
  start(): void {
    this.stopping = false;
    this.schedule(0);
  }

  private schedule(delayMs: number): void {
    if (this.stopping) return;
    this.timer = setTimeout(() => {
      void this.runPass().finally(() => this.schedule(this.options.intervalMs));
    }, delayMs);
  }

  /** One pass; returns how many top-ups it handled. Safe to call directly (tests). */
  runPass(): Promise<number> {
    if (this.running) return this.running;
    this.running = this.pass().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async pass(): Promise<number> {
    // A top-up left pending in this pass is not picked again until the next one.
    const seen: string[] = [];
    try {
      for (let i = 0; i < this.options.batchSize; i += 1) {
        if (this.stopping) break;
        const recovered = await this.processor.recoverNext(seen);
        if (!recovered) break;
        seen.push(recovered.id);
      }
      this.metrics.unfinishedTopUps.set(await this.repository.countUnfinished());
    } catch (error) {
      this.metrics.recoveryActions.inc({ action: 'error' });
      this.logger.error({ err: error }, 'recovery pass failed; retrying next interval');
    }
    if (seen.length > 0) this.logger.info({ handled: seen.length }, 'recovery pass done');
    return seen.length;
  }

  /** Stops scheduling and waits for the pass in progress (bounded by the saga's own limits). */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }
}
