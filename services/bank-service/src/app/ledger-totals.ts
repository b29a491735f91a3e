// GetLedgerTotals (issue #15, analytics-service only): the ledger side of the
// history cross-check (ADR 0021). Read-only, bounded by the page size.
import { selectLedgerTotals, type LedgerTotalsRow } from '../db/ledger-totals.js';
import { InvalidArgumentError } from '../domain/errors.js';
import { isUuid } from '../domain/ids.js';
import type { FeatureContext } from './operations.js';

/** Bounds of one page (the proto's "1-1000"). */
export const LEDGER_TOTALS_LIMIT_MAX = 1_000;

export interface LedgerTotalsQuery {
  afterAccountId: string | null;
  limit: number;
  upTo: Date;
}

export interface LedgerTotalsPage {
  totals: LedgerTotalsRow[];
  /** Set when more accounts may follow: the last account of this page. */
  nextAfterAccountId: string | null;
}

export function parseLedgerTotalsQuery(input: { afterAccountId: string; limit: number; upTo: Date | undefined }): LedgerTotalsQuery {
  const violations = [];
  if (input.afterAccountId !== '' && !isUuid(input.afterAccountId)) violations.push({ field: 'after_account_id', description: 'must be a UUID or empty' });
  if (!Number.isInteger(input.limit) || input.limit < 1 || input.limit > LEDGER_TOTALS_LIMIT_MAX) {
    violations.push({ field: 'limit', description: `must be 1-${LEDGER_TOTALS_LIMIT_MAX}` });
  }
  if (!input.upTo || Number.isNaN(input.upTo.getTime())) violations.push({ field: 'up_to', description: 'is required' });
  if (violations.length > 0) throw new InvalidArgumentError(violations);
  return { afterAccountId: input.afterAccountId === '' ? null : input.afterAccountId.toLowerCase(), limit: input.limit, upTo: input.upTo! };
}

export async function getLedgerTotals(context: Pick<FeatureContext, 'pool' | 'attempts'>, query: LedgerTotalsQuery): Promise<LedgerTotalsPage> {
  const totals = await context.attempts.run('account', () => selectLedgerTotals(context.pool, query.afterAccountId, query.limit, query.upTo));
  const last = totals[totals.length - 1];
  return { totals, nextAfterAccountId: totals.length === query.limit && last ? last.accountId : null };
}
