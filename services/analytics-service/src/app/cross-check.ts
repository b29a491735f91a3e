// The history cross-check job (ADR 0021): every interval, compares each
// account's posted net in ClickHouse with the ledger's (bank GetLedgerTotals),
// both up to now − settle (events lag the commit), a bounded number of pages
// per run; a cycle over all accounts may span runs. Drift is reported only
// when an account differs in two checks in a row (DriftTracker).
import type { Logger } from '@wallet/platform';
import type { LedgerTotalsSource } from '../clients/bank.js';
import { compareNets, DriftTracker } from '../domain/cross-check.js';
import type { AnalyticsMetrics } from '../metrics.js';
import type { OperationsStore } from '../store/operations-store.js';

export interface CrossCheckOptions {
  intervalMs: number;
  settleMs: number;
  pageSizeMax: number;
  pagesMax: number;
  suspectsMax: number;
  now?: () => number;
}

export type CrossCheckOutcome = 'ok' | 'drift' | 'error' | 'skipped';

export interface CrossCheckRun {
  outcome: CrossCheckOutcome;
  accountsChecked: number;
  /** True when the run reached the last account (the next run starts a new cycle). */
  cycleComplete: boolean;
}

/** How many persisting drifts one log line names. */
const LOGGED_DRIFTS_MAX = 10;

export class CrossCheck {
  private readonly tracker: DriftTracker;
  private afterAccountId = '';
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<CrossCheckRun> | undefined;
  private stopped = false;

  constructor(
    private readonly options: CrossCheckOptions,
    private readonly ledger: LedgerTotalsSource,
    private readonly store: Pick<OperationsStore, 'postedNets' | 'schemaReady'>,
    private readonly metrics: AnalyticsMetrics,
    private readonly logger: Logger,
  ) {
    this.tracker = new DriftTracker(options.suspectsMax);
  }

  start(): void {
    const tick = () => {
      if (this.stopped) return;
      void this.runOnce().finally(() => {
        if (!this.stopped) this.timer = setTimeout(tick, this.options.intervalMs);
      });
    };
    this.timer = setTimeout(tick, this.options.intervalMs);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running?.catch(() => undefined);
    this.ledger.close();
  }

  /** One run (never two at once: a call during a run joins it). */
  runOnce(): Promise<CrossCheckRun> {
    this.running ??= this.run().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async run(): Promise<CrossCheckRun> {
    if (!this.store.schemaReady) return this.finish({ outcome: 'skipped', accountsChecked: 0, cycleComplete: false });
    try {
      const { accountsChecked, cycleComplete } = await this.checkPages();
      const drift = this.tracker.summary();
      const outcome = drift.accounts > 0 ? 'drift' : 'ok';
      if (drift.accounts > 0) {
        this.logger.error({ driftAccounts: drift.accounts, driftMinor: drift.absoluteMinor.toString(), largest: this.tracker.largest(LOGGED_DRIFTS_MAX).map((d) => ({ accountId: d.accountId, driftMinor: d.driftMinor.toString() })) }, 'history drifts from the ledger');
      }
      return this.finish({ outcome, accountsChecked, cycleComplete });
    } catch (error) {
      this.logger.warn({ err: error }, 'cross-check run failed; retrying at the next interval');
      return this.finish({ outcome: 'error', accountsChecked: 0, cycleComplete: false });
    }
  }

  private async checkPages(): Promise<{ accountsChecked: number; cycleComplete: boolean }> {
    const now = this.options.now?.() ?? Date.now();
    const upTo = new Date(now - this.options.settleMs);
    const upToMicros = BigInt(upTo.getTime()) * 1000n;
    let accountsChecked = 0;
    for (let page = 0; page < this.options.pagesMax && !this.stopped; page += 1) {
      const ledger = await this.ledger.ledgerTotals(this.afterAccountId, this.options.pageSizeMax, upTo);
      const ids = ledger.totals.map((t) => t.accountId);
      const history = await this.store.postedNets(ids, upToMicros);
      this.tracker.record(ids, compareNets(ledger.totals, history));
      accountsChecked += ids.length;
      this.afterAccountId = ledger.nextAfterAccountId;
      if (this.afterAccountId === '') return { accountsChecked, cycleComplete: true };
    }
    return { accountsChecked, cycleComplete: false };
  }

  private finish(run: CrossCheckRun): CrossCheckRun {
    const drift = this.tracker.summary();
    this.metrics.crossCheckRuns.inc({ outcome: run.outcome });
    this.metrics.crossCheckAccountsChecked.inc(run.accountsChecked);
    this.metrics.ledgerDriftAccounts.set(drift.accounts);
    // A gauge is a float: exact up to 2^53 minor units, far beyond any drift worth reading.
    this.metrics.ledgerDriftMinor.set(Number(drift.absoluteMinor));
    return run;
  }
}
