// Issue #15 RPCs of this feature. Owner: see /work/brief (replace the placeholders).
import type { BankServiceServer } from '@wallet/contracts/bank';
import type { BankServicerDeps, UnaryHandle } from './servicer.js';
import { unimplemented } from './unimplemented.js';

export function createLedgerVerifyHandlers(_deps: BankServicerDeps & { handle: UnaryHandle }): Pick<BankServiceServer, 'verifyLedger'> {
  return {
    verifyLedger: unimplemented('VerifyLedger'),
  };
}
