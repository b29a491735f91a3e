// The bank-service as the adapter needs it, over gRPC. The gRPC vocabulary
// (status codes, error domains) stays here: the saga sees only a domain
// classification of each failure (rejected / retryable) and lookups.
import { status as Status } from '@grpc/grpc-js';
import { BankServiceClient, DepositLookupStatus } from '@wallet/contracts/bank';
import { callUnary, createGrpcClient, parseGrpcError, type GrpcTransport } from '@wallet/platform';
import type { Registry } from 'prom-client';
import type { DepositFailureClass, DepositLookup } from '../domain/saga.js';

/** gRPC status names (grpc-js numbers them). */
export type GrpcCodeName = keyof typeof Status;

/** The ErrorInfo domain of the bank's own, deliberate answers. */
export const BANK_ERROR_DOMAIN = 'bank.wallet';

/** Codes with which the bank refuses a deposit for good (with its domain and a reason): the deposit is not applied. */
const DEFINITIVE_REFUSALS: ReadonlySet<GrpcCodeName> = new Set(['INVALID_ARGUMENT', 'NOT_FOUND', 'FAILED_PRECONDITION', 'OUT_OF_RANGE', 'ALREADY_EXISTS']);

export interface DepositRequest {
  accountId: string;
  amountMinor: bigint;
  currency: string;
  depositReference: string;
  topUpId: string;
  cardLast4: string;
  cardBrand: string;
  /** Subject of the user who asked for the top-up; empty only for top-ups journaled before identity existed. */
  initiatedBy: string;
}

export interface DepositResult {
  depositId: string;
  replayed: boolean;
}

/** A failed bank call, reduced to what the saga decides on. */
export class BankCallError extends Error {
  constructor(
    readonly code: GrpcCodeName,
    readonly reason: string | undefined,
    readonly domain: string | undefined,
    message: string,
  ) {
    super(message);
    this.name = 'BankCallError';
  }
}

/**
 * What a failed DepositMoney means for the money. Only a business refusal
 * from the bank itself (ACCOUNT_NOT_FOUND, INVALID_ARGUMENT, CURRENCY_MISMATCH,
 * DEPOSIT_REFERENCE_VOIDED, ...) proves "not applied". UNAVAILABLE (even the
 * bank's own STORAGE_UNAVAILABLE: PostgreSQL may have committed before the
 * bank lost the reply), DEADLINE_EXCEEDED, a reset connection, or any error
 * without the bank's domain may hide an applied deposit.
 */
export function classifyDepositError(error: BankCallError): DepositFailureClass {
  // The bank refused us (this service's certificate is not in its caller table), not the deposit: see DepositFailureClass.
  if (error.code === 'UNAUTHENTICATED' || error.code === 'PERMISSION_DENIED') return 'unauthorized';
  return error.domain === BANK_ERROR_DOMAIN && DEFINITIVE_REFUSALS.has(error.code) ? 'rejected' : 'retryable';
}

/**
 * The bank's answer to GetBalance with the user's own token: the bank's
 * ownership rule decides. `not_found` covers an account that does not exist
 * and one the caller may not use (the bank answers both alike, on purpose).
 */
export type AccountCheck =
  | { outcome: 'usable'; currency: string }
  | { outcome: 'not_found' }
  | { outcome: 'forbidden' }
  | { outcome: 'unauthenticated' };

const ACCOUNT_CHECK_REFUSALS: Partial<Record<GrpcCodeName, AccountCheck>> = {
  NOT_FOUND: { outcome: 'not_found' },
  PERMISSION_DENIED: { outcome: 'forbidden' },
  UNAUTHENTICATED: { outcome: 'unauthenticated' },
};

/** The bank operations the adapter needs; an interface so tests can count calls. */
export interface Bank {
  deposit(request: DepositRequest, headers?: Record<string, string | undefined>): Promise<DepositResult>;
  /**
   * GetDeposit: what became of a deposit reference. With voidIfAbsent, a
   * reference never applied is voided (status voided: it never will be).
   * Throws BankCallError when the bank cannot be asked.
   */
  lookUpDeposit(reference: string, voidIfAbsent: boolean, headers?: Record<string, string | undefined>): Promise<DepositLookup>;
  /**
   * Whether the caller (its bearer token, forwarded) may use the account, and
   * the account's currency. Throws BankCallError when the bank cannot say.
   */
  checkAccount(accountId: string, authorization: string, headers?: Record<string, string | undefined>): Promise<AccountCheck>;
  /** Readiness: resolves once a connection to the bank is up. */
  ping(timeoutMs: number): Promise<void>;
  close(): void;
}

export function toBankCallError(error: unknown): BankCallError {
  // Already classified (thrown by this client): keep its code and domain.
  if (error instanceof BankCallError) return error;
  const parsed = parseGrpcError(error);
  const code = (Status[parsed.code] as GrpcCodeName | undefined) ?? 'UNKNOWN';
  return new BankCallError(code, parsed.reason, parsed.domain, parsed.message);
}

/**
 * bank-service over gRPC (mutual TLS: the transport presents this service's
 * certificate, which is its identity at the bank's caller table, and accepts
 * only a server certificate naming bank-service), every call with a deadline.
 */
export class GrpcBank implements Bank {
  private readonly client: BankServiceClient;

  /** With `registry`, every call is counted in the platform's grpc_client_handling_seconds. */
  constructor(
    address: string,
    private readonly timeoutMs: number,
    transport: GrpcTransport,
    registry?: Registry,
  ) {
    this.client = createGrpcClient(BankServiceClient, address, transport, registry ? { registry } : {});
  }

  async deposit(request: DepositRequest, headers: Record<string, string | undefined> = {}): Promise<DepositResult> {
    try {
      const response = await callUnary(
        this.client,
        this.client.depositMoney,
        {
          accountId: request.accountId,
          amount: { amountMinor: request.amountMinor, currencyCode: request.currency },
          depositReference: request.depositReference,
          topUpId: request.topUpId,
          card: { cardLast4: request.cardLast4, cardBrand: request.cardBrand },
          initiatedBy: request.initiatedBy,
        },
        { timeoutMs: this.timeoutMs, headers },
      );
      return { depositId: response.deposit?.id ?? '', replayed: response.replayed };
    } catch (error) {
      throw toBankCallError(error);
    }
  }

  async lookUpDeposit(reference: string, voidIfAbsent: boolean, headers: Record<string, string | undefined> = {}): Promise<DepositLookup> {
    let response;
    try {
      response = await callUnary(this.client, this.client.getDeposit, { depositReference: reference, voidIfAbsent }, { timeoutMs: this.timeoutMs, headers });
    } catch (error) {
      throw toBankCallError(error);
    }
    switch (response.status) {
      case DepositLookupStatus.DEPOSIT_LOOKUP_STATUS_APPLIED:
        return { status: 'applied', depositId: response.deposit?.id ?? '' };
      case DepositLookupStatus.DEPOSIT_LOOKUP_STATUS_VOIDED:
        return { status: 'voided' };
      case DepositLookupStatus.DEPOSIT_LOOKUP_STATUS_NOT_FOUND:
        return { status: 'not_found' };
      default:
        // An answer this client does not understand proves nothing.
        throw new BankCallError('UNKNOWN', undefined, undefined, `GetDeposit answered status ${String(response.status)}`);
    }
  }

  async checkAccount(accountId: string, authorization: string, headers: Record<string, string | undefined> = {}): Promise<AccountCheck> {
    try {
      const response = await callUnary(this.client, this.client.getBalance, { accountId }, { timeoutMs: this.timeoutMs, headers: { ...headers, authorization } });
      return { outcome: 'usable', currency: response.balance?.currencyCode ?? '' };
    } catch (error) {
      const failure = toBankCallError(error);
      const refusal = ACCOUNT_CHECK_REFUSALS[failure.code];
      if (refusal) return refusal;
      throw failure;
    }
  }

  ping(timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      this.client.waitForReady(Date.now() + timeoutMs, (error) => (error ? reject(error) : resolve()));
    });
  }

  close(): void {
    this.client.close();
  }
}
