// GetLedgerTotals (issue #15): analytics-service only (mTLS caller table,
// callers.ts); a service-to-service read for the history cross-check (ADR 0021).
import type { BankServiceServer } from '@wallet/contracts/bank';
import { getLedgerTotals, parseLedgerTotalsQuery } from '../app/ledger-totals.js';
import type { BankServicerDeps, UnaryHandle } from './servicer.js';

export function createLedgerTotalsHandlers(deps: BankServicerDeps & { handle: UnaryHandle }): Pick<BankServiceServer, 'getLedgerTotals'> {
  return {
    getLedgerTotals(call, callback) {
      deps.handle('GetLedgerTotals', call, callback, async (request) => {
        const query = parseLedgerTotalsQuery({ afterAccountId: request.afterAccountId, limit: request.limit, upTo: request.upTo });
        const page = await getLedgerTotals(deps.operations.context, query);
        return {
          response: {
            totals: page.totals.map((t) => ({ accountId: t.accountId, netMinor: t.netMinor, entryCount: t.entryCount, currency: t.currency })),
            nextAfterAccountId: page.nextAfterAccountId ?? '',
          },
          outcome: 'ok',
        };
      });
    },
  };
}
