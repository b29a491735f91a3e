// The expiry sweep (ADR 0015): every interval, pending holds past their
// expiry are released in bounded batches, each batch one transaction that
// locks its holds FOR UPDATE SKIP LOCKED. Every replica may run it: two
// sweepers never take the same hold, and a capture or void holding a hold's
// row makes the sweep skip it (that call decides, expiry included). All state
// is in bank.holds, so a restart loses nothing: the next sweep finds them.
import type { Logger } from '@wallet/platform';
import type { HoldUseCase } from './holds.js';

export interface HoldExpirySweepSettings {
  intervalMs: number;
  batchSizeMax: number;
  /** Batches one tick may run back to back while they come back full (then the next tick). */
  batchesPerTickMax: number;
}

export class HoldExpirySweeper {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private started = false;
  private stopping = false;

  constructor(
    private readonly holds: Pick<HoldUseCase, 'expireDue'>,
    private readonly settings: HoldExpirySweepSettings,
    private readonly logger: Logger,
    private readonly onExpired: (count: number) => void = () => {},
  ) {}

  start(): void {
    if (this.started) return;
    this.started = true;
    this.schedule();
  }

  /** Stops scheduling and waits for a sweep in progress (bounded by the statement timeouts). */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }

  /** One tick: batches until one comes back short (or the per-tick bound). Returns how many holds expired. */
  async sweep(): Promise<number> {
    let total = 0;
    for (let batch = 0; batch < this.settings.batchesPerTickMax && !this.stopping; batch += 1) {
      const count = await this.holds.expireDue(this.settings.batchSizeMax);
      total += count;
      if (count > 0) this.onExpired(count);
      if (count < this.settings.batchSizeMax) break;
    }
    return total;
  }

  private schedule(): void {
    if (this.stopping) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.running = this.sweep()
        .then(
          (count) => {
            if (count > 0) this.logger.debug({ count }, 'expired holds released');
          },
          (error: unknown) => this.logger.warn({ err: error }, 'hold expiry sweep failed; retrying at the next interval'),
        )
        .finally(() => {
          this.running = undefined;
          this.schedule();
        });
    }, this.settings.intervalMs);
    this.timer.unref();
  }
}
