// GetAccountLimits, SetAccountLimits (ADR 0016): the verified user
// (caller.ts), the use case (app/limits.ts), the limits as the proto has them.
import type { sendUnaryData, ServerUnaryCall } from '@grpc/grpc-js';
import type {
  AccountLimits,
  BankServiceServer,
  GetAccountLimitsRequest,
  GetAccountLimitsResponse,
  Money,
  SetAccountLimitsRequest,
  SetAccountLimitsResponse,
} from '@wallet/contracts/bank';
import { LimitsUseCase, type AccountLimitsResult } from '../app/limits.js';
import type { BankServicerDeps, UnaryHandle } from './servicer.js';

export function limitsToProto({ accountId, currency, view }: AccountLimitsResult): AccountLimits {
  const money = (amountMinor: bigint | null): Money | undefined => (amountMinor === null ? undefined : { amountMinor, currencyCode: currency });
  return {
    accountId,
    currency,
    overdraftLimit: money(view.overdraftLimitMinor),
    dailyLimit: money(view.dailyLimitMinor),
    monthlyLimit: money(view.monthlyLimitMinor),
    dailyLimitMax: money(view.dailyLimitMaxMinor),
    monthlyLimitMax: money(view.monthlyLimitMaxMinor),
    timeZone: view.timeZone,
    dailySpent: money(view.dailySpentMinor),
    monthlySpent: money(view.monthlySpentMinor),
    dailyRemaining: money(view.dailyRemainingMinor),
    monthlyRemaining: money(view.monthlyRemainingMinor),
  };
}

export function createLimitHandlers(deps: BankServicerDeps & { handle: UnaryHandle }): Pick<BankServiceServer, 'getAccountLimits' | 'setAccountLimits'> {
  const { handle, callers } = deps;
  const limits = new LimitsUseCase(deps.operations.context);
  return {
    getAccountLimits(call: ServerUnaryCall<GetAccountLimitsRequest, GetAccountLimitsResponse>, callback: sendUnaryData<GetAccountLimitsResponse>) {
      handle('GetAccountLimits', call, callback, async (request) => {
        const caller = await callers.user(call.metadata);
        const result = await limits.getAccountLimits(request.accountId, caller);
        return { response: { limits: limitsToProto(result) }, outcome: 'ok' };
      });
    },
    setAccountLimits(call: ServerUnaryCall<SetAccountLimitsRequest, SetAccountLimitsResponse>, callback: sendUnaryData<SetAccountLimitsResponse>) {
      handle('SetAccountLimits', call, callback, async (request) => {
        const caller = await callers.user(call.metadata);
        const result = await limits.setAccountLimits(request, caller);
        return { response: { limits: limitsToProto(result) }, outcome: 'completed' };
      });
    },
  };
}
