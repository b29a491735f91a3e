// GetAccountOwners (issue #15): webhook-service only (mTLS caller table,
// callers.ts); a service-to-service lookup, so no end-user token is involved.
import type { BankServiceServer } from '@wallet/contracts/bank';
import { getAccountOwners } from '../app/account-owners.js';
import type { BankServicerDeps, UnaryHandle } from './servicer.js';

export function createAccountOwnersHandlers(deps: BankServicerDeps & { handle: UnaryHandle }): Pick<BankServiceServer, 'getAccountOwners'> {
  return {
    getAccountOwners(call, callback) {
      deps.handle('GetAccountOwners', call, callback, async (request) => {
        const owners = await getAccountOwners(deps.operations.context, request.accountIds);
        return { response: { owners: Object.fromEntries(owners) }, outcome: 'ok' };
      });
    },
  };
}
