// A small in-memory BankService for the adapter's tests: GetBalance, an
// idempotent DepositMoney (by deposit_reference) and GetDeposit (with
// void_if_absent, as the real bank's contract says), with per-call plans to
// fail, hang, or apply-then-lose-the-reply, a record of every call, and a
// restart on the same port (the bank unreachable meanwhile). Like the real
// bank, GetBalance verifies the caller's bearer token (the file's test issuer)
// and applies the ownership rule (another user's account is NOT_FOUND), and
// DepositMoney / GetDeposit accept only the card adapter's credential.
import { randomUUID } from 'node:crypto';
import { status as Status, type sendUnaryData, type ServerUnaryCall } from '@grpc/grpc-js';
import {
  BankServiceService,
  DepositLookupStatus,
  type BankServiceServer,
  type DepositMoneyRequest,
  type DepositMoneyResponse,
  type GetBalanceRequest,
  type GetBalanceResponse,
  type GetDepositRequest,
  type GetDepositResponse,
} from '@wallet/contracts/bank';
import { richError, startGrpcServer, type RunningGrpcServer } from '@wallet/platform';
import { unimplementedHandlers } from '@wallet/testkit';
import { createTokenVerifier, parseBearer, readAccess, type TokenVerifier } from '@wallet/platform/auth';
import { peerServiceName, type CallerDenial, type CallerTable } from '@wallet/platform/tls';
import { testGrpcSecurity } from '../../../../test/support/pki.js';
import { ALICE, testIssuer } from './auth.js';

export interface FakeDeposit {
  id: string;
  accountId: string;
  amountMinor: bigint;
  currency: string;
  reference: string;
  topUpId: string;
  cardLast4: string;
  cardBrand: string;
  initiatedBy: string;
}

/** The metadata one call arrived with (to prove what was and was not sent). */
export interface SeenCall {
  rpc: 'GetBalance' | 'DepositMoney' | 'GetDeposit';
  authorization: string | undefined;
  /** The caller's service name from its client certificate. */
  caller: string | null;
}

type BankRpc = 'transferMoney' | 'getBalance' | 'createAccount' | 'listAccounts' | 'depositMoney' | 'getDeposit';

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
  | 'apply_then_hang'
  /** Applies the deposit, then answers its own UNAVAILABLE (PostgreSQL committed, the bank lost the reply). */
  | 'apply_then_unavailable';

/** What the n-th GetDeposit call (0-based, per reference) does. */
export type LookupStep = 'ok' | 'unavailable' | 'hang';

type AnyCall = ServerUnaryCall<unknown, unknown>;
const header = (call: AnyCall, key: string): string | undefined => call.metadata.get(key)[0]?.toString();
const unauthenticated = (message: string) => richError({ code: Status.UNAUTHENTICATED, reason: 'CALLER_UNAUTHENTICATED', message, domain: 'bank.wallet' });
const accountNotFound = () => richError({ code: Status.NOT_FOUND, reason: 'ACCOUNT_NOT_FOUND', message: 'no such account', domain: 'bank.wallet' });

export class FakeBank {
  readonly deposits = new Map<string, FakeDeposit>();
  /** Owner of each account; any account not listed belongs to alice. */
  readonly owners = new Map<string, string>();
  /** Every call's metadata, in order. */
  readonly seen: SeenCall[] = [];
  /** What GetBalance does besides its rules: answer by them, fail as unreachable, or refuse the caller. */
  balancePlan: () => 'ok' | 'unavailable' | 'unauthenticated' | 'forbidden' = () => 'ok';
  /** Who may call what (the real bank's table); tests may change a row to make the bank refuse the adapter. */
  readonly callers: Record<BankRpc, string[]> = {
    transferMoney: ['api-gateway'],
    getBalance: ['api-gateway', 'bank-card-adapter'],
    createAccount: ['api-gateway'],
    listAccounts: ['api-gateway'],
    depositMoney: ['bank-card-adapter'],
    getDeposit: ['bank-card-adapter'],
  };
  /** Calls the caller table refused (no handler ran). */
  readonly denied: CallerDenial[] = [];
  private verifier: TokenVerifier | undefined;
  /** Every DepositMoney call's reference, in order. */
  readonly depositCalls: string[] = [];
  readonly unknownAccounts = new Set<string>();
  /** References GetDeposit voided: DepositMoney with them fails DEPOSIT_REFERENCE_VOIDED. */
  readonly voided = new Set<string>();
  /** Every GetDeposit call's reference, in order. */
  readonly lookupCalls: string[] = [];
  plan: (callIndex: number, reference: string) => DepositStep = () => 'ok';
  lookupPlan: (callIndex: number, reference: string) => LookupStep = () => 'ok';
  private server: RunningGrpcServer | undefined;
  private port = 0;

  get address(): string {
    if (!this.port) throw new Error('fake bank not started');
    return `127.0.0.1:${this.port}`;
  }

  lookupsFor(reference: string): number {
    return this.lookupCalls.filter((r) => r === reference).length;
  }

  /** Records the call's metadata and caller (the caller table already admitted it). */
  private record(rpc: SeenCall['rpc'], call: AnyCall): void {
    this.seen.push({ rpc, authorization: header(call, 'authorization'), caller: peerServiceName(call) });
  }

  private getBalance(call: ServerUnaryCall<GetBalanceRequest, GetBalanceResponse>, callback: sendUnaryData<GetBalanceResponse>): void {
    const authorization = header(call, 'authorization');
    this.record('GetBalance', call);
    const plan = this.balancePlan();
    if (plan === 'unavailable') {
      callback(richError({ code: Status.UNAVAILABLE, reason: 'STORAGE_UNAVAILABLE', message: 'database down', domain: 'bank.wallet' }));
      return;
    }
    if (plan === 'forbidden') {
      callback(richError({ code: Status.PERMISSION_DENIED, reason: 'ROLE_FORBIDDEN', message: 'role may not', domain: 'bank.wallet' }));
      return;
    }
    const bearer = parseBearer(authorization);
    if (plan === 'unauthenticated' || bearer.kind !== 'token' || !this.verifier) {
      callback(unauthenticated('no access token'));
      return;
    }
    const accountId = call.request.accountId;
    this.verifier.verify(bearer.token).then(
      (principal) => {
        if (this.unknownAccounts.has(accountId) || readAccess(principal, this.owners.get(accountId) ?? ALICE) !== 'allow') {
          callback(accountNotFound());
          return;
        }
        callback(null, { accountId, balance: { amountMinor: 0n, currencyCode: 'USD' }, updatedAt: new Date(), available: { amountMinor: 0n, currencyCode: 'USD' }, pending: { amountMinor: 0n, currencyCode: 'USD' }, posted: { amountMinor: 0n, currencyCode: 'USD' }, overdraftLimit: { amountMinor: 0n, currencyCode: 'USD' } });
      },
      () => callback(unauthenticated('invalid access token')),
    );
  }

  private getDeposit(call: ServerUnaryCall<GetDepositRequest, GetDepositResponse>, callback: sendUnaryData<GetDepositResponse>): void {
    this.record('GetDeposit', call);
    const reference = call.request.depositReference;
    const step = this.lookupPlan(this.lookupsFor(reference), reference);
    this.lookupCalls.push(reference);
    if (step === 'hang') return;
    if (step === 'unavailable') {
      callback(richError({ code: Status.UNAVAILABLE, reason: 'STORAGE_UNAVAILABLE', message: 'database down', domain: 'bank.wallet' }));
      return;
    }
    const deposit = this.deposits.get(reference);
    if (deposit) {
      const amount = { amountMinor: deposit.amountMinor, currencyCode: deposit.currency };
      const proto = {
        id: deposit.id,
        accountId: deposit.accountId,
        amount,
        depositReference: reference,
        topUpId: deposit.topUpId,
        createdAt: new Date(),
        initiatedBy: deposit.initiatedBy,
      };
      callback(null, { status: DepositLookupStatus.DEPOSIT_LOOKUP_STATUS_APPLIED, deposit: proto });
      return;
    }
    if (call.request.voidIfAbsent) this.voided.add(reference);
    const status = this.voided.has(reference) ? DepositLookupStatus.DEPOSIT_LOOKUP_STATUS_VOIDED : DepositLookupStatus.DEPOSIT_LOOKUP_STATUS_NOT_FOUND;
    callback(null, { status, deposit: undefined });
  }

  callsFor(reference: string): number {
    return this.depositCalls.filter((r) => r === reference).length;
  }

  async start(port = 0): Promise<this> {
    const issuer = await testIssuer();
    if (!this.verifier) {
      this.verifier = createTokenVerifier({ issuer: issuer.issuer, audience: issuer.audience });
      // Fetch the keys now, not inside the first GetBalance (whose deadline a loaded machine could overrun).
      await this.verifier.verify(await issuer.sign({ sub: ALICE }));
    }
    const implementation: BankServiceServer = {
      ...unimplementedHandlers<BankServiceServer>(BankServiceService),
      transferMoney: (_call, callback) => callback({ code: Status.UNIMPLEMENTED, details: 'not in the fake' }),
      getDeposit: (call, callback) => this.getDeposit(call, callback),
      getBalance: (call, callback) => this.getBalance(call, callback),
      createAccount: (_call, callback) => callback({ code: Status.UNIMPLEMENTED, details: 'not in the fake' }),
      listAccounts: (_call, callback) => callback({ code: Status.UNIMPLEMENTED, details: 'not in the fake' }),
      depositMoney: (call: ServerUnaryCall<DepositMoneyRequest, DepositMoneyResponse>, callback: sendUnaryData<DepositMoneyResponse>) => {
        this.record('DepositMoney', call);
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
          callback(accountNotFound());
          return;
        }
        if (step === 'hang') return;
        // As the real bank: a deposit names who initiated it.
        if (request.initiatedBy.length === 0) {
          callback(richError({ code: Status.INVALID_ARGUMENT, reason: 'INVALID_ARGUMENT', message: 'initiated_by is required', domain: 'bank.wallet' }));
          return;
        }
        if (this.voided.has(reference)) {
          callback(richError({ code: Status.FAILED_PRECONDITION, reason: 'DEPOSIT_REFERENCE_VOIDED', message: 'voided', domain: 'bank.wallet' }));
          return;
        }
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
          initiatedBy: request.initiatedBy,
        };
        this.deposits.set(reference, deposit);
        if (step === 'apply_then_hang') return;
        if (step === 'apply_then_unavailable') {
          callback(richError({ code: Status.UNAVAILABLE, reason: 'STORAGE_UNAVAILABLE', message: 'connection to the database lost', domain: 'bank.wallet' }));
          return;
        }
        callback(null, {
          deposit: {
            id: deposit.id,
            accountId: deposit.accountId,
            amount: { amountMinor: deposit.amountMinor, currencyCode: deposit.currency },
            depositReference: reference,
            topUpId: deposit.topUpId,
            createdAt: new Date(),
            initiatedBy: deposit.initiatedBy,
          },
          replayed: existing !== undefined,
        });
      },
    };
    const security = await testGrpcSecurity('bank-service');
    const authorized = security.authorize(BankServiceService, implementation, this.callers as unknown as CallerTable<BankServiceServer>, {
      domain: 'bank.wallet',
      onDenied: (denial) => this.denied.push(denial),
    });
    this.server = await startGrpcServer({
      host: '127.0.0.1',
      port: port || this.port,
      services: [{ name: 'wallet.bank.v1.BankService', definition: BankServiceService, implementation: authorized }],
      credentials: security.serverCredentials(),
    });
    this.port = this.server.port;
    return this;
  }

  async stop(): Promise<void> {
    // Hanging calls never finish on their own.
    await this.server?.shutdown(100);
    this.server = undefined;
  }

  /** Comes back on the same port, with every deposit and voided reference it had. */
  async restart(): Promise<void> {
    await this.start(this.port);
  }
}
