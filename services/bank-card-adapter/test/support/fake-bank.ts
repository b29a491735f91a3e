// A small in-memory BankService for the adapter's tests: GetBalance and an
// idempotent DepositMoney (by deposit_reference), with a per-call plan to
// fail, hang, or apply-then-hang, and a record of every call.
import { randomUUID } from 'node:crypto';
import { status as Status, type sendUnaryData, type ServerUnaryCall } from '@grpc/grpc-js';
import {
  BankServiceService,
  type BankServiceServer,
  type DepositMoneyRequest,
  type DepositMoneyResponse,
  type GetBalanceRequest,
  type GetBalanceResponse,
} from '@wallet/contracts/bank';
import { richError, startGrpcServer, type RunningGrpcServer } from '@wallet/platform';

export interface FakeDeposit {
  id: string;
  accountId: string;
  amountMinor: bigint;
  currency: string;
  reference: string;
  topUpId: string;
  cardLast4: string;
  cardBrand: string;
}

/** What the n-th DepositMoney call (0-based, counted per reference) does. */
export type DepositStep =
  | 'ok'
  /** The bank's own "storage unavailable": not applied, safe to retry. */
  | 'unavailable'
  /** Permanent refusal: the account does not exist. */
  | 'account_not_found'
  /** Never answers: the caller's deadline fires; nothing applied. */
  | 'hang'
  /** Applies the deposit, then never answers. */
  | 'apply_then_hang';

export class FakeBank {
  readonly deposits = new Map<string, FakeDeposit>();
  /** Every DepositMoney call's reference, in order. */
  readonly depositCalls: string[] = [];
  readonly unknownAccounts = new Set<string>();
  plan: (callIndex: number, reference: string) => DepositStep = () => 'ok';
  private server: RunningGrpcServer | undefined;

  get address(): string {
    if (!this.server) throw new Error('fake bank not started');
    return `127.0.0.1:${this.server.port}`;
  }

  callsFor(reference: string): number {
    return this.depositCalls.filter((r) => r === reference).length;
  }

  async start(port = 0): Promise<this> {
    const implementation: BankServiceServer = {
      transferMoney: (_call, callback) => callback({ code: Status.UNIMPLEMENTED, details: 'not in the fake' }),
      getDeposit: (_call, callback) => callback({ code: Status.UNIMPLEMENTED, details: 'not in the fake yet' }),
      getBalance: (call: ServerUnaryCall<GetBalanceRequest, GetBalanceResponse>, callback: sendUnaryData<GetBalanceResponse>) => {
        const accountId = call.request.accountId;
        if (this.unknownAccounts.has(accountId)) {
          callback(richError({ code: Status.NOT_FOUND, reason: 'ACCOUNT_NOT_FOUND', message: 'no such account', domain: 'bank.wallet' }));
          return;
        }
        callback(null, { accountId, balance: { amountMinor: 0n, currencyCode: 'USD' }, updatedAt: new Date() });
      },
      depositMoney: (call: ServerUnaryCall<DepositMoneyRequest, DepositMoneyResponse>, callback: sendUnaryData<DepositMoneyResponse>) => {
        const request = call.request;
        const reference = request.depositReference;
        const callIndex = this.callsFor(reference);
        this.depositCalls.push(reference);
        const step = this.plan(callIndex, reference);
        if (step === 'unavailable') {
          callback(richError({ code: Status.UNAVAILABLE, reason: 'STORAGE_UNAVAILABLE', message: 'database down', domain: 'bank.wallet' }));
          return;
        }
        if (step === 'account_not_found' || this.unknownAccounts.has(request.accountId)) {
          callback(richError({ code: Status.NOT_FOUND, reason: 'ACCOUNT_NOT_FOUND', message: 'no such account', domain: 'bank.wallet' }));
          return;
        }
        if (step === 'hang') return;
        const existing = this.deposits.get(reference);
        const deposit = existing ?? {
          id: randomUUID(),
          accountId: request.accountId,
          amountMinor: request.amount?.amountMinor ?? 0n,
          currency: request.amount?.currencyCode ?? '',
          reference,
          topUpId: request.topUpId,
          cardLast4: request.card?.cardLast4 ?? '',
          cardBrand: request.card?.cardBrand ?? '',
        };
        this.deposits.set(reference, deposit);
        if (step === 'apply_then_hang') return;
        callback(null, {
          deposit: {
            id: deposit.id,
            accountId: deposit.accountId,
            amount: { amountMinor: deposit.amountMinor, currencyCode: deposit.currency },
            depositReference: reference,
            topUpId: deposit.topUpId,
            createdAt: new Date(),
          },
          replayed: existing !== undefined,
        });
      },
    };
    this.server = await startGrpcServer({
      host: '127.0.0.1',
      port,
      services: [{ name: 'wallet.bank.v1.BankService', definition: BankServiceService, implementation }],
    });
    return this;
  }

  async stop(): Promise<void> {
    // Hanging calls never finish on their own.
    await this.server?.shutdown(100);
  }
}
