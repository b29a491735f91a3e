import type { sendUnaryData, ServerUnaryCall, ServiceError } from '@grpc/grpc-js';
import {
  DepositLookupStatus,
  TransferStatus,
  type Account,
  type BankServiceServer,
  type CreateAccountRequest,
  type CreateAccountResponse,
  type DepositMoneyRequest,
  type DepositMoneyResponse,
  type GetDepositRequest,
  type GetDepositResponse,
  type GetBalanceRequest,
  type GetBalanceResponse,
  type ListAccountsRequest,
  type ListAccountsResponse,
  type TransferMoneyRequest,
  type TransferMoneyResponse,
} from '@wallet/contracts/bank';
import type { Logger } from '@wallet/platform';
import type { AccountBalance, BankOperations, DepositLookup, SubmitOptions } from '../app/operations.js';
import type { CancelSignal } from '../app/group-commit.js';
import type { BankMetrics } from '../metrics.js';
import { BankError } from '../domain/errors.js';
import type { DepositRecord, TransferRecord } from '../domain/ledger.js';
import type { CallerAuthenticator } from './caller.js';
import { outcomeOf, toGrpcError } from './errors.js';
import { createAccountOwnersHandlers } from './account-owners.js';
import { createHoldHandlers } from './holds.js';
import { createLedgerTotalsHandlers } from './ledger-totals.js';
import { createLedgerVerifyHandlers } from './ledger-verify.js';
import { createLimitHandlers } from './limits.js';
import { createRefundHandlers } from './refunds.js';
import { createReversalHandlers } from './reversals.js';
import { createStatementHandlers } from './statements.js';

export function transferToProto(transfer: TransferRecord): NonNullable<TransferMoneyResponse['transfer']> {
  return {
    id: transfer.id,
    senderAccountId: transfer.senderAccountId,
    recipientAccountId: transfer.recipientAccountId,
    amount: { amountMinor: transfer.amountMinor, currencyCode: transfer.currency },
    status: TransferStatus.TRANSFER_STATUS_COMPLETED,
    description: transfer.description,
    createdAt: transfer.createdAt,
    initiatedBy: transfer.initiatedBy ?? '',
  };
}

export function depositToProto(deposit: DepositRecord): NonNullable<DepositMoneyResponse['deposit']> {
  return {
    id: deposit.id,
    accountId: deposit.accountId,
    amount: { amountMinor: deposit.amountMinor, currencyCode: deposit.currency },
    depositReference: deposit.depositReference,
    topUpId: deposit.topUpId,
    createdAt: deposit.createdAt,
    initiatedBy: deposit.initiatedBy ?? '',
  };
}

/**
 * The parts of a balance (ADR 0016): posted = the ledger balance; available
 * = posted - outgoing holds (what `balance` always meant: what can be spent,
 * before any overdraft); pending = incoming - outgoing holds (signed).
 */
export function balanceParts(account: AccountBalance): Pick<GetBalanceResponse, 'balance' | 'available' | 'pending' | 'posted' | 'overdraftLimit'> {
  const money = (amountMinor: bigint) => ({ amountMinor, currencyCode: account.currency });
  const available = money(account.balanceMinor - account.pendingOutMinor);
  return {
    balance: available,
    available,
    pending: money(account.pendingInMinor - account.pendingOutMinor),
    posted: money(account.balanceMinor),
    overdraftLimit: money(account.overdraftLimitMinor),
  };
}

export function accountToProto(account: AccountBalance): Account {
  const { balance, available, pending, posted } = balanceParts(account);
  return {
    accountId: account.id,
    ownerId: account.ownerId ?? '',
    currency: account.currency,
    balance,
    createdAt: account.createdAt,
    available,
    pending,
    posted,
  };
}

const LOOKUP_STATUS: Record<DepositLookup['status'], DepositLookupStatus> = {
  applied: DepositLookupStatus.DEPOSIT_LOOKUP_STATUS_APPLIED,
  not_found: DepositLookupStatus.DEPOSIT_LOOKUP_STATUS_NOT_FOUND,
  voided: DepositLookupStatus.DEPOSIT_LOOKUP_STATUS_VOIDED,
};

/** The caller's deadline and cancellation, so a queued request the caller gave up on is dropped unexecuted. */
export interface CallBounds extends SubmitOptions {
  /**
   * Call before answering: grpc-js reports the close of every call's stream as 'cancelled',
   * answered calls too, and aborting then cost a DOMException, an abort event and a scan of
   * the transfer queue per transfer for nothing.
   */
  answered(): void;
}

export function callBounds(call: Pick<ServerUnaryCall<unknown, unknown>, 'getDeadline' | 'once' | 'removeListener' | 'cancelled'>): CallBounds {
  const deadline = call.getDeadline();
  const deadlineMs = deadline instanceof Date ? deadline.getTime() : Number.isFinite(deadline) ? deadline : undefined;
  // A plain object, not an AbortController: creating one per call showed in the profile (~1 %).
  let aborted = call.cancelled;
  let listeners: Array<() => void> | undefined;
  const onCancelled = () => {
    aborted = true;
    const waiting = listeners ?? [];
    listeners = undefined;
    for (const listener of waiting) listener();
  };
  if (!aborted) call.once('cancelled', onCancelled);
  const signal: CancelSignal = {
    get aborted() {
      return aborted;
    },
    // Listeners fire once (the call is cancelled at most once), as with { once: true }.
    addEventListener: (_type, listener) => {
      if (!aborted) (listeners ??= []).push(listener);
    },
    removeEventListener: (_type, listener) => {
      const index = listeners?.indexOf(listener) ?? -1;
      if (index >= 0) listeners!.splice(index, 1);
    },
  };
  return { deadlineMs, signal, answered: () => call.removeListener('cancelled', onCancelled) };
}

function requestIdOf(metadata: ServerUnaryCall<unknown, unknown>['metadata']): string | undefined {
  const value = metadata.get('x-request-id')[0];
  return typeof value === 'string' ? value.slice(0, 128) : undefined;
}

/** Failures worth a warning (the service's dependencies); the rest are the caller's business. */
const WARN_REASONS: ReadonlySet<string> = new Set(['STORAGE_UNAVAILABLE', 'IDENTITY_UNAVAILABLE']);

/**
 * The gRPC adapter: decodes nothing itself (ts-proto did), establishes the
 * user (caller.ts; the calling service was checked before, callers.ts),
 * calls the use case, maps results and errors once,
 * records outcome and volume metrics and one log line per failure
 * (latency and the SERVER span are the platform gRPC server's).
 */
export interface BankServicerDeps {
  operations: BankOperations;
  logger: Logger;
  metrics: BankMetrics;
  callers: CallerAuthenticator;
}

/** Runs a unary use case: one outcome metric, one log line per failure, errors mapped once (errors.ts). */
export type UnaryHandle = <Req, Res>(
  method: string,
  call: ServerUnaryCall<Req, Res>,
  callback: sendUnaryData<Res>,
  run: (request: Req) => Promise<{ response: Res; outcome: string }>,
) => void;

export function createUnaryHandle(deps: Pick<BankServicerDeps, 'logger' | 'metrics'>): UnaryHandle {
  const { logger, metrics } = deps;
  return function handle<Req, Res>(
    method: string,
    call: ServerUnaryCall<Req, Res>,
    callback: sendUnaryData<Res>,
    run: (request: Req) => Promise<{ response: Res; outcome: string }>,
  ): void {
    run(call.request).then(
      ({ response, outcome }) => {
        metrics.outcome(method, outcome);
        callback(null, response);
      },
      (error: unknown) => {
        metrics.outcome(method, outcomeOf(error));
        const requestId = requestIdOf(call.metadata);
        if (error instanceof BankError) {
          const level = WARN_REASONS.has(error.reason) ? 'warn' : 'debug';
          logger[level]({ method, requestId, reason: error.reason, metadata: error.metadata, ...(error.reason === 'IDENTITY_UNAVAILABLE' ? { err: error.cause } : {}) }, error.message);
        } else {
          logger.error({ err: error, method, requestId }, 'unexpected error');
        }
        callback(toGrpcError(error) as ServiceError);
      },
    );
  };
}

/**
 * The gRPC adapter: decodes nothing itself (ts-proto did), establishes the
 * user (caller.ts; the calling service was checked before, callers.ts),
 * calls the use case, maps results and errors once,
 * records outcome and volume metrics and one log line per failure
 * (latency and the SERVER span are the platform gRPC server's).
 * Issue #15's RPCs live in one module per feature (src/grpc/<feature>.ts).
 */
export function createBankServicer(deps: BankServicerDeps): BankServiceServer {
  const { operations, metrics, callers } = deps;
  const handle = createUnaryHandle(deps);
  const features = { ...deps, handle };

  return {
    ...createHoldHandlers(features),
    ...createReversalHandlers(features),
    ...createRefundHandlers(features),
    ...createLimitHandlers(features),
    ...createStatementHandlers(features),
    ...createLedgerTotalsHandlers(features),
    ...createLedgerVerifyHandlers(features),
    ...createAccountOwnersHandlers(features),
    transferMoney(call: ServerUnaryCall<TransferMoneyRequest, TransferMoneyResponse>, callback: sendUnaryData<TransferMoneyResponse>) {
      const bounds = callBounds(call);
      const answer: sendUnaryData<TransferMoneyResponse> = (...args) => {
        bounds.answered();
        callback(...args);
      };
      handle('TransferMoney', call, answer, async (request) => {
        const authStartedMs = performance.now();
        const caller = await callers.user(call.metadata);
        metrics.transferPhase('auth', (performance.now() - authStartedMs) / 1000);
        const result = await operations.transferMoney(request, caller, { deadlineMs: bounds.deadlineMs, signal: bounds.signal });
        if (!result.replayed) metrics.transferCommitted(result.transfer.currency, result.transfer.amountMinor);
        return {
          response: { transfer: transferToProto(result.transfer), replayed: result.replayed },
          outcome: result.replayed ? 'replayed' : 'completed',
        };
      });
    },
    getBalance(call: ServerUnaryCall<GetBalanceRequest, GetBalanceResponse>, callback: sendUnaryData<GetBalanceResponse>) {
      handle('GetBalance', call, callback, async (request) => {
        const caller = await callers.user(call.metadata);
        const account = await operations.getBalance(request.accountId, caller);
        return {
          response: { accountId: account.id, updatedAt: account.updatedAt, ...balanceParts(account) },
          outcome: 'ok',
        };
      });
    },
    depositMoney(call: ServerUnaryCall<DepositMoneyRequest, DepositMoneyResponse>, callback: sendUnaryData<DepositMoneyResponse>) {
      handle('DepositMoney', call, callback, async (request) => {
        const result = await operations.depositMoney(request);
        if (!result.replayed) metrics.depositCommitted(result.deposit.currency, result.deposit.amountMinor);
        return {
          response: { deposit: depositToProto(result.deposit), replayed: result.replayed },
          outcome: result.replayed ? 'replayed' : 'completed',
        };
      });
    },
    getDeposit(call: ServerUnaryCall<GetDepositRequest, GetDepositResponse>, callback: sendUnaryData<GetDepositResponse>) {
      handle('GetDeposit', call, callback, async (request) => {
        const lookup = await operations.getDeposit({ depositReference: request.depositReference, voidIfAbsent: request.voidIfAbsent });
        return {
          response: { status: LOOKUP_STATUS[lookup.status], deposit: lookup.status === 'applied' ? depositToProto(lookup.deposit) : undefined },
          outcome: lookup.status,
        };
      });
    },
    createAccount(call: ServerUnaryCall<CreateAccountRequest, CreateAccountResponse>, callback: sendUnaryData<CreateAccountResponse>) {
      handle('CreateAccount', call, callback, async (request) => {
        const caller = await callers.user(call.metadata);
        const result = await operations.createAccount(request, caller);
        return { response: { account: accountToProto(result.account), replayed: result.replayed }, outcome: result.replayed ? 'replayed' : 'completed' };
      });
    },
    listAccounts(call: ServerUnaryCall<ListAccountsRequest, ListAccountsResponse>, callback: sendUnaryData<ListAccountsResponse>) {
      handle('ListAccounts', call, callback, async (request) => {
        const caller = await callers.user(call.metadata);
        const accounts = await operations.listAccounts(request, caller);
        return { response: { accounts: accounts.map(accountToProto) }, outcome: 'ok' };
      });
    },
  };
}
