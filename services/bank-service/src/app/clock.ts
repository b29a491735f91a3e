/**
 * Creation times for ledger records: never earlier than the last one issued
 * by this process, and strictly increasing, so records decided in one batch
 * (one commit) get distinct times in decision order. Dates carry
 * milliseconds, so beyond 1,000 records a second the times run ahead of the
 * wall clock and catch up as soon as the rate drops.
 */
export class MonotonicClock {
  private lastMs = 0;

  constructor(private readonly now: () => Date = () => new Date()) {}

  next(): Date {
    this.lastMs = Math.max(this.now().getTime(), this.lastMs + 1);
    return new Date(this.lastMs);
  }
}
