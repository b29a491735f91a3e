import { status as Status } from '@grpc/grpc-js';
import { BankServiceClient } from '@wallet/contracts/bank';
import { callUnary, createGrpcClient, parseGrpcError } from '@wallet/platform';
import type { GrpcCodeName } from '../domain/saga.js';

export interface DepositRequest {
  accountId: string;
  amountMinor: bigint;
  currency: string;
  depositReference: string;
  topUpId: string;
  cardLast4: string;
  cardBrand: string;
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

export type AccountCheck = { exists: true; currency: string } | { exists: false };

/** The bank operations the adapter needs; an interface so tests can count calls. */
export interface Bank {
  deposit(request: DepositRequest, headers?: Record<string, string | undefined>): Promise<DepositResult>;
  /** Whether the account exists (and its currency). Throws BankCallError when the bank cannot say. */
  checkAccount(accountId: string, headers?: Record<string, string | undefined>): Promise<AccountCheck>;
  /** Readiness: resolves once a connection to the bank is up. */
  ping(timeoutMs: number): Promise<void>;
  close(): void;
}

export function toBankCallError(error: unknown): BankCallError {
  const parsed = parseGrpcError(error);
  const code = (Status[parsed.code] as GrpcCodeName | undefined) ?? 'UNKNOWN';
  return new BankCallError(code, parsed.reason, parsed.domain, parsed.message);
}

/** bank-service over gRPC, every call with a deadline (callUnary). */
export class GrpcBank implements Bank {
  private readonly client: BankServiceClient;

  constructor(
    address: string,
    private readonly timeoutMs: number,
  ) {
    this.client = createGrpcClient(BankServiceClient, address);
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
        },
        { timeoutMs: this.timeoutMs, headers },
      );
      return { depositId: response.deposit?.id ?? '', replayed: response.replayed };
    } catch (error) {
      throw toBankCallError(error);
    }
  }

  async checkAccount(accountId: string, headers: Record<string, string | undefined> = {}): Promise<AccountCheck> {
    try {
      const response = await callUnary(this.client, this.client.getBalance, { accountId }, { timeoutMs: this.timeoutMs, headers });
      return { exists: true, currency: response.balance?.currencyCode ?? '' };
    } catch (error) {
      const failure = toBankCallError(error);
      if (failure.code === 'NOT_FOUND') return { exists: false };
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
