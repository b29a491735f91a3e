// The bank-service as the adapter needs it, over gRPC. The gRPC vocabulary
// (status codes, error domains) stays here: the saga sees only a domain
// classification of each failure (rejected / retryable) and lookups.
import { status as Status } from '@grpc/grpc-js';
import { BankServiceClient, DepositLookupStatus, RefundLookupStatus, RefundStatus } from '@wallet/contracts/bank';
import { callUnary, createGrpcClient, grpcServiceConfig, parseGrpcError, type GrpcTransport } from '@wallet/platform';
import type { Registry } from 'prom-client';
import type { DebitLookup } from '../domain/refund.js';
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

export interface RefundDebitRequest {
  topUpId: string;
  amountMinor: bigint;
  currency: string;
  /** The adapter's refund id: the bank applies it once. */
  refundReference: string;
  initiatedBy: string;
}

export interface DepositResult {
  depositId: string;
  replayed: boolean;
}

/** A failed bank call, reduced to what the saga decides on. */
export class BankCallError extends Error {
  /** Certain that the request never left this process (the bank breaker was open): that call changed nothing. */
  readonly notSent: boolean;
  /** With notSent: when the breaker lets a probe through again. */
  readonly retryAfterSeconds: number | undefined;

  constructor(
    readonly code: GrpcCodeName,
    readonly reason: string | undefined,
    readonly domain: string | undefined,
    message: string,
    options: { notSent?: boolean; retryAfterSeconds?: number } = {},
  ) {
    super(message);
    this.name = 'BankCallError';
    this.notSent = options.notSent ?? false;
    this.retryAfterSeconds = options.retryAfterSeconds;
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
  // Never sent (open breaker): this call applied nothing; see DepositFailureClass.
  if (error.notSent) return 'not_sent';
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
  /** RefundDeposit: debits a top-up's refund from the wallet, once per reference. Throws BankCallError. */
  refundDeposit(request: RefundDebitRequest, headers?: Record<string, string | undefined>): Promise<{ replayed: boolean; status: 'debited' | 'cancelled' }>;
  /** GetRefund: what became of a refund reference; voidIfAbsent voids one never applied (proof it never debits). */
  lookUpRefund(reference: string, voidIfAbsent: boolean, headers?: Record<string, string | undefined>): Promise<DebitLookup>;
  /** CancelRefund: credits a debited refund back (idempotent). Throws BankCallError. */
  cancelRefund(reference: string, headers?: Record<string, string | undefined>): Promise<{ replayed: boolean }>;
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
 * The channel's retry table for the bank (C1): round_robin over the SERVING
 * replicas, and per RPC whether the channel may send it again on UNAVAILABLE
 * (another replica answers). A call that never left this process is retried
 * transparently whatever the table says.
 */
export const BANK_SERVICE_CONFIG = grpcServiceConfig({
  service: 'wallet.bank.v1.BankService',
  retryable: {
    GetRefund: 'a read, or with void_if_absent a void under the reference lock that every replay answers alike, like GetDeposit; it settles unknown refund debits',
    GetBalance: 'a read (the account check before any charge): sending it twice changes nothing',
    GetDeposit:
      'a read, or with void_if_absent a void under the reference lock that every replay answers alike (APPLIED stays APPLIED, VOIDED stays VOIDED); it settles unknown outcomes, so a replica dying under it should not cost a durable wait',
  },
  notRetried: {
    DepositMoney:
      'idempotent by deposit_reference (a replay answers the first answer), but the saga retries it itself: bounded attempts journaled one by one, backoff with jitter, then GetDeposit before any decision; channel retries would multiply the attempts unseen (3 x CARD_ADAPTER_DEPOSIT_ATTEMPTS_MAX)',
    TransferMoney: 'never called by the adapter (not in the bank caller table for bank-card-adapter)',
    CreateAccount: 'never called by the adapter (not in the bank caller table for bank-card-adapter)',
    ListAccounts: 'never called by the adapter (not in the bank caller table for bank-card-adapter)',
    ...Object.fromEntries(
      [
        'CreateHold',
        'CaptureHold',
        'VoidHold',
        'GetHold',
        'ReverseTransfer',
        'ListReversals',
        'GetAccountLimits',
        'SetAccountLimits',
        'GetBalanceAt',
        'GetStatement',
        'GetLedgerTotals',
        'VerifyLedger',
        'GetAccountOwners',
      ].map((rpc) => [rpc, 'never called by the adapter (not in the bank caller table for bank-card-adapter)']),
    ),
    // Refunds (issue #15): the refund saga retries these itself, journaled, like DepositMoney.
    RefundDeposit: 'idempotent by refund_reference, but the refund saga retries it itself (bounded, journaled), then GetRefund before any decision',
    CancelRefund: 'idempotent by refund_reference, but the refund saga retries it itself (bounded, journaled)',
  },
});

/**
 * bank-service over gRPC (mutual TLS: the transport presents this service's
 * certificate, which is its identity at the bank's caller table, and accepts
 * only a server certificate naming bank-service), every call with a deadline.
 */
export class GrpcBank implements Bank {
  private readonly client: BankServiceClient;

  /**
   * `target` is what parseGrpcTarget made of CARD_ADAPTER_BANK_GRPC_ADDRESS (one
   * replica, a list, dns:///): calls go round_robin to the replicas whose
   * grpc.health.v1 answers SERVING, retried per BANK_SERVICE_CONFIG. With
   * `registry`, every call is counted in the platform's grpc_client_handling_seconds.
   */
  constructor(
    target: string,
    private readonly timeoutMs: number,
    transport: GrpcTransport,
    registry?: Registry,
  ) {
    this.client = createGrpcClient(BankServiceClient, target, transport, {
      serviceConfig: BANK_SERVICE_CONFIG,
      // A replica that cannot answer a health check within a call's deadline would not answer the call either;
      // a shorter probe deadline (the platform's 500 ms) takes a slow but working bank, the only one, out under
      // load (the first probe is a fresh mTLS handshake), and every call then fails fast.
      healthCheck: { probeTimeoutMs: timeoutMs },
      ...(registry ? { registry } : {}),
    });
    // Resolve, probe and connect now, not inside the first call's deadline (a cold health-aware channel
    // probes every replica before it has any address to call). Bounded; a failure only means "not yet".
    this.client.waitForReady(Date.now() + timeoutMs, () => {});
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

  async refundDeposit(request: RefundDebitRequest, headers: Record<string, string | undefined> = {}): Promise<{ replayed: boolean; status: 'debited' | 'cancelled' }> {
    try {
      const response = await callUnary(
        this.client,
        this.client.refundDeposit,
        {
          topUpId: request.topUpId,
          amount: { amountMinor: request.amountMinor, currencyCode: request.currency },
          refundReference: request.refundReference,
          initiatedBy: request.initiatedBy,
        },
        { timeoutMs: this.timeoutMs, headers },
      );
      return { replayed: response.replayed, status: response.refund?.status === RefundStatus.REFUND_STATUS_CANCELLED ? 'cancelled' : 'debited' };
    } catch (error) {
      throw toBankCallError(error);
    }
  }

  async lookUpRefund(reference: string, voidIfAbsent: boolean, headers: Record<string, string | undefined> = {}): Promise<DebitLookup> {
    let response;
    try {
      response = await callUnary(this.client, this.client.getRefund, { refundReference: reference, voidIfAbsent }, { timeoutMs: this.timeoutMs, headers });
    } catch (error) {
      throw toBankCallError(error);
    }
    switch (response.status) {
      case RefundLookupStatus.REFUND_LOOKUP_STATUS_APPLIED:
        return { status: response.refund?.status === RefundStatus.REFUND_STATUS_CANCELLED ? 'cancelled' : 'debited' };
      case RefundLookupStatus.REFUND_LOOKUP_STATUS_VOIDED:
        return { status: 'voided' };
      case RefundLookupStatus.REFUND_LOOKUP_STATUS_NOT_FOUND:
        return { status: 'not_found' };
      default:
        // An answer this client does not understand proves nothing.
        throw new BankCallError('UNKNOWN', undefined, undefined, `GetRefund answered status ${String(response.status)}`);
    }
  }

  async cancelRefund(reference: string, headers: Record<string, string | undefined> = {}): Promise<{ replayed: boolean }> {
    try {
      const response = await callUnary(this.client, this.client.cancelRefund, { refundReference: reference }, { timeoutMs: this.timeoutMs, headers });
      return { replayed: response.replayed };
    } catch (error) {
      throw toBankCallError(error);
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
