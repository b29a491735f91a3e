// VerifyLedger (admin only): recomputes the per-account hash chains and
// reports the first break (app/ledger-verify.ts, ADR 0019).
import type { BankServiceServer, VerifyLedgerRequest } from '@wallet/contracts/bank';
import { hasRole } from '@wallet/platform/auth';
import { LedgerVerifyUseCase, VERIFY_ACCOUNTS_DEFAULT, VERIFY_ACCOUNTS_MAX, type VerifyLedgerInput } from '../app/ledger-verify.js';
import { InvalidArgumentError, RoleForbiddenError, type FieldViolation } from '../domain/errors.js';
import { isUuid, normalizeUuid } from '../domain/ids.js';
import type { BankServicerDeps, UnaryHandle } from './servicer.js';

export function validateVerifyLedgerRequest(request: VerifyLedgerRequest): VerifyLedgerInput {
  const violations: FieldViolation[] = [];
  if (request.accountId !== '' && !isUuid(request.accountId)) violations.push({ field: 'account_id', description: 'must be a UUID' });
  if (request.afterAccountId !== '' && !isUuid(request.afterAccountId)) violations.push({ field: 'after_account_id', description: 'must be a UUID' });
  if (!Number.isInteger(request.accountsMax) || request.accountsMax < 0 || request.accountsMax > VERIFY_ACCOUNTS_MAX) {
    violations.push({ field: 'accounts_max', description: `must be 1-${VERIFY_ACCOUNTS_MAX} (0: ${VERIFY_ACCOUNTS_DEFAULT})` });
  }
  if (violations.length > 0) throw new InvalidArgumentError(violations);
  return {
    accountId: request.accountId === '' ? null : normalizeUuid(request.accountId),
    afterAccountId: request.afterAccountId === '' ? null : normalizeUuid(request.afterAccountId),
    accountsMax: request.accountsMax === 0 ? VERIFY_ACCOUNTS_DEFAULT : request.accountsMax,
  };
}

export function createLedgerVerifyHandlers(deps: BankServicerDeps & { handle: UnaryHandle }): Pick<BankServiceServer, 'verifyLedger'> {
  const { operations, callers, handle, logger } = deps;
  const useCase = new LedgerVerifyUseCase(operations.context);
  return {
    verifyLedger(call, callback) {
      handle('VerifyLedger', call, callback, async (request) => {
        const caller = await callers.user(call.metadata);
        if (!hasRole(caller, 'admin')) throw new RoleForbiddenError('verify the ledger');
        const result = await useCase.verify(validateVerifyLedgerRequest(request));
        if (result.firstBreak) logger.error({ firstBreak: { ...result.firstBreak, entryId: result.firstBreak.entryId.toString() } }, 'ledger hash chain broken');
        return {
          response: {
            ok: result.ok,
            accountsChecked: BigInt(result.accountsChecked),
            entriesChecked: BigInt(result.entriesChecked),
            firstBreak: result.firstBreak ? { accountId: result.firstBreak.accountId, entryId: result.firstBreak.entryId, reason: result.firstBreak.reason } : undefined,
            nextAfterAccountId: result.nextAfterAccountId ?? '',
          },
          outcome: result.ok ? 'ok' : 'broken',
        };
      });
    },
  };
}
