// Who may call the bank, and what each caller may do, over real gRPC with
// tokens from a real (loopback) issuer: discovery, JWKS, ES256. Every call
// without a verified identity is refused; a customer reaches only its own
// accounts (anyone else's answers exactly like an unknown account); support
// reads and never moves; admin does everything; every movement records who
// made it, in the row and in its events. (Which *service* may call is the
// caller table's business: mtls-callers.test.ts.)
import { randomUUID } from 'node:crypto';
import { status as Status } from '@grpc/grpc-js';
import type { BankServiceClient, DepositMoneyRequest, TransferMoneyRequest } from '@wallet/contracts/bank';
import { callUnary, parseGrpcError, type ParsedGrpcError } from '@wallet/platform';
import { freePort, type TestDatabase } from '@wallet/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBankService, type RunningBankService } from '../../src/app/service.js';
import { ADMIN_USER, ALICE_USER, BOB_USER, startTestCallers, SUPPORT_USER, type TestCallers } from '../support/callers.js';
import { ALICE, bankClient, createMigratedDatabase, eventValidators, silentLogger, testConfig } from '../support/helpers.js';

let db: TestDatabase;
let callers: TestCallers;
let service: RunningBankService;
let client: BankServiceClient;
/** The card adapter's client (DepositMoney, GetDeposit). */
let cardAdapter: BankServiceClient;
const TIMEOUT_MS = 15_000;
const UNKNOWN = '00000000-0000-4000-8000-00000000dead';

beforeAll(async () => {
  db = await createMigratedDatabase('bank_callers');
  callers = await startTestCallers();
  service = await startBankService(await testConfig(db.url, { ...callers.env, BANK_MIGRATE_ON_START: 'false' }), silentLogger);
  client = await bankClient(service.grpcPort);
  cardAdapter = await bankClient(service.grpcPort, 'bank-card-adapter');
});

afterAll(async () => {
  client?.close();
  cardAdapter?.close();
  await service?.close();
  await callers?.close();
  await db?.drop();
});

type Headers = Record<string, string>;
const options = (headers: Headers = {}) => ({ timeoutMs: TIMEOUT_MS, headers });

async function failureOf(promise: Promise<unknown>): Promise<ParsedGrpcError> {
  try {
    await promise;
  } catch (error) {
    return parseGrpcError(error);
  }
  throw new Error('expected the call to fail');
}

const as = (subject: string, roles?: Array<'customer' | 'support' | 'admin'>) => callers.as(subject, roles);

function transferRequest(sender: string, recipient: string, extra: Partial<TransferMoneyRequest> = {}): TransferMoneyRequest {
  return { senderAccountId: sender, recipientAccountId: recipient, amount: { amountMinor: 100n, currencyCode: 'USD' }, idempotencyKey: randomUUID(), description: '', ...extra };
}

function depositRequest(accountId: string, initiatedBy: string, extra: Partial<DepositMoneyRequest> = {}): DepositMoneyRequest {
  return {
    accountId,
    amount: { amountMinor: 10_000n, currencyCode: 'USD' },
    depositReference: randomUUID(),
    topUpId: randomUUID(),
    card: { cardLast4: '4242', cardBrand: 'visa' },
    initiatedBy,
    ...extra,
  };
}

/** A new customer with one funded USD account, opened and topped up through the API. */
async function customerWithAccount(balanceMinor = 10_000n): Promise<{ subject: string; headers: Headers; accountId: string }> {
  const subject = `user-${randomUUID()}`;
  const headers = await as(subject);
  const opened = await callUnary(client, client.createAccount, { idempotencyKey: 'first', currency: 'USD', ownerId: '' }, options(headers));
  const accountId = opened.account!.accountId;
  if (balanceMinor === 0n) return { subject, headers, accountId };
  await callUnary(cardAdapter, cardAdapter.depositMoney, depositRequest(accountId, subject, { amount: { amountMinor: balanceMinor, currencyCode: 'USD' } }), options());
  return { subject, headers, accountId };
}

describe('calls without a verified caller are refused', () => {
  const userCalls: Array<[string, (headers: Headers) => Promise<unknown>]> = [
    ['TransferMoney', (h) => callUnary(client, client.transferMoney, transferRequest(ALICE, UNKNOWN), options(h))],
    ['GetBalance', (h) => callUnary(client, client.getBalance, { accountId: ALICE }, options(h))],
    ['CreateAccount', (h) => callUnary(client, client.createAccount, { idempotencyKey: randomUUID(), currency: 'USD', ownerId: '' }, options(h))],
    ['ListAccounts', (h) => callUnary(client, client.listAccounts, { ownerId: '' }, options(h))],
  ];
  const badTokens: Array<[string, () => Promise<Headers>]> = [
    ['no metadata', async () => ({})],
    ['a garbage authorization', async () => ({ authorization: 'garbage' })],
    ['a bearer that is no JWT', async () => ({ authorization: 'Bearer abc' })],
    ['an expired token', async () => ({ authorization: `Bearer ${await callers.issuer.sign({ sub: ALICE_USER, expiresInSeconds: -120 })}` })],
    ['a token for another audience', async () => ({ authorization: `Bearer ${await callers.issuer.sign({ sub: ALICE_USER, audience: 'another-api' })}` })],
    ['a token from another issuer', async () => ({ authorization: `Bearer ${await callers.issuer.sign({ sub: ALICE_USER, issuer: 'http://127.0.0.1:1' })}` })],
    ['a token with a forged signature', async () => ({ authorization: `${await callers.issuer.bearer(ALICE_USER)}`.replace(/.{4}$/, 'AAAA') })],
    ['the retired service credential instead of a token', async () => ({ 'x-wallet-service-credential': 'dev-card-adapter-credential' })],
  ];

  for (const [method, call] of userCalls) {
    it.each(badTokens)(`${method} with %s -> UNAUTHENTICATED / CALLER_UNAUTHENTICATED`, async (_name, headers) => {
      const failure = await failureOf(call(await headers()));
      expect([failure.code, failure.reason, failure.domain]).toEqual([Status.UNAUTHENTICATED, 'CALLER_UNAUTHENTICATED', 'bank.wallet']);
    });
  }

  it('an unauthenticated transfer changes nothing and leaves its key free', async () => {
    const request = transferRequest(ALICE, UNKNOWN, { idempotencyKey: 'unauthenticated-key' });
    await failureOf(callUnary(client, client.transferMoney, request, options({})));
    const { rows } = await service.pool.query('SELECT 1 FROM bank.transfer_failures WHERE idempotency_key = $1 UNION ALL SELECT 1 FROM bank.transfers WHERE idempotency_key = $1', [
      'unauthenticated-key',
    ]);
    expect(rows).toHaveLength(0);
  });

  it.each<[string, () => Promise<Headers>]>([
    ['no metadata', async () => ({})],
    ['the retired service credential', async () => ({ 'x-wallet-service-credential': 'dev-card-adapter-credential' })],
    ['an admin token', () => callers.admin()],
  ])('DepositMoney and GetDeposit from the gateway with %s -> PERMISSION_DENIED / CALLER_NOT_ALLOWED, nothing credited or voided', async (_name, given) => {
    const headers = await given();
    const request = depositRequest(ALICE, ALICE_USER);
    const deposit = await failureOf(callUnary(client, client.depositMoney, request, options(headers)));
    expect([deposit.code, deposit.reason]).toEqual([Status.PERMISSION_DENIED, 'CALLER_NOT_ALLOWED']);
    const lookup = await failureOf(callUnary(client, client.getDeposit, { depositReference: request.depositReference, voidIfAbsent: true }, options(headers)));
    expect([lookup.code, lookup.reason]).toEqual([Status.PERMISSION_DENIED, 'CALLER_NOT_ALLOWED']);
    const { rows } = await service.pool.query(
      'SELECT 1 FROM bank.deposits WHERE deposit_reference = $1 UNION ALL SELECT 1 FROM bank.voided_deposit_references WHERE deposit_reference = $1',
      [request.depositReference],
    );
    expect(rows).toHaveLength(0);
  });

  it('answers UNAVAILABLE / IDENTITY_UNAVAILABLE (not UNAUTHENTICATED) while the issuer cannot be reached, and executes nothing', async () => {
    const unreachable = await startBankService(
      await testConfig(db.url, { AUTH_ISSUER: `http://127.0.0.1:${await freePort()}`, BANK_MIGRATE_ON_START: 'false', BANK_OUTBOX_RELAY_ENABLED: 'false' }),
      silentLogger,
    );
    const other = await bankClient(unreachable.grpcPort);
    try {
      const request = transferRequest(ALICE, UNKNOWN, { idempotencyKey: 'issuer-down-key' });
      const failure = await failureOf(callUnary(other, other.transferMoney, request, options(await as(ALICE_USER))));
      expect([failure.code, failure.reason]).toEqual([Status.UNAVAILABLE, 'IDENTITY_UNAVAILABLE']);
      const { rows } = await service.pool.query('SELECT 1 FROM bank.transfer_failures WHERE idempotency_key = $1', ['issuer-down-key']);
      expect(rows).toHaveLength(0);
    } finally {
      other.close();
      await unreachable.close();
    }
  });
});

describe('ownership: a customer reaches only its own accounts', () => {
  it('alice (a development user) reads her seeded account; bob cannot, and hears exactly what an unknown id gets', async () => {
    const mine = await callUnary(client, client.getBalance, { accountId: ALICE }, options(await as(ALICE_USER)));
    expect(mine.accountId).toBe(ALICE);
    const notMine = await failureOf(callUnary(client, client.getBalance, { accountId: ALICE }, options(await as(BOB_USER))));
    const unknown = await failureOf(callUnary(client, client.getBalance, { accountId: UNKNOWN }, options(await as(BOB_USER))));
    expect(notMine.code).toBe(Status.NOT_FOUND);
    expect({ ...notMine, message: notMine.message.replace(ALICE, 'X'), metadata: { ...notMine.metadata, accountId: 'X' } }).toEqual({
      ...unknown,
      message: unknown.message.replace(UNKNOWN, 'X'),
      metadata: { ...unknown.metadata, accountId: 'X' },
    });
  });

  it("refuses a transfer out of another customer's account exactly like one out of an unknown account, and moves nothing", async () => {
    const victim = await customerWithAccount();
    const thief = await customerWithAccount();
    const stolen = await failureOf(callUnary(client, client.transferMoney, transferRequest(victim.accountId, thief.accountId), options(thief.headers)));
    const unknown = await failureOf(callUnary(client, client.transferMoney, transferRequest(UNKNOWN, thief.accountId), options(thief.headers)));
    expect([stolen.code, stolen.reason]).toEqual([Status.NOT_FOUND, 'ACCOUNT_NOT_FOUND']);
    expect({ ...stolen, message: stolen.message.replace(victim.accountId, 'X'), metadata: { ...stolen.metadata, accountId: 'X' } }).toEqual({
      ...unknown,
      message: unknown.message.replace(UNKNOWN, 'X'),
      metadata: { ...unknown.metadata, accountId: 'X' },
    });
    const balance = await callUnary(client, client.getBalance, { accountId: victim.accountId }, options(victim.headers));
    expect(balance.balance?.amountMinor).toBe(10_000n);
  });

  it("never replays another user's idempotency key: the same request or another one with it answers NOT_FOUND, no transfer leaks", async () => {
    const owner = await customerWithAccount();
    const other = await customerWithAccount();
    const request = transferRequest(owner.accountId, other.accountId, { idempotencyKey: 'shared-key', description: 'private note' });
    const done = await callUnary(client, client.transferMoney, request, options(owner.headers));
    expect(done.replayed).toBe(false);
    for (const attempt of [request, { ...request, amount: { amountMinor: 1n, currencyCode: 'USD' } }]) {
      const failure = await failureOf(callUnary(client, client.transferMoney, attempt, options(other.headers)));
      expect([failure.code, failure.reason]).toEqual([Status.NOT_FOUND, 'ACCOUNT_NOT_FOUND']);
      expect(failure.metadata).not.toHaveProperty('replayed');
      expect(JSON.stringify(failure)).not.toContain(done.transfer!.id);
    }
    // The owner still replays its own answer.
    expect(await callUnary(client, client.transferMoney, request, options(owner.headers))).toEqual({ ...done, replayed: true });
  });

  it('lets a customer pay into any account, and records the payer as initiatedBy in the row and both events', async () => {
    const payer = await customerWithAccount();
    const payee = await customerWithAccount(0n);
    const result = await callUnary(client, client.transferMoney, transferRequest(payer.accountId, payee.accountId), options(payer.headers));
    expect(result.transfer?.initiatedBy).toBe(payer.subject);
    const { rows } = await service.pool.query<{ initiated_by: string }>('SELECT initiated_by FROM bank.transfers WHERE id = $1', [result.transfer!.id]);
    expect(rows[0]!.initiated_by).toBe(payer.subject);
    const events = await service.pool.query<{ event_type: string; payload: Record<string, unknown> }>(
      `SELECT event_type, payload FROM bank.outbox WHERE payload->>'transferId' = $1 ORDER BY id`,
      [result.transfer!.id],
    );
    expect(events.rows.map((e) => [e.event_type, e.payload.initiatedBy])).toEqual([
      ['transfer_out', payer.subject],
      ['transfer_in', payer.subject],
    ]);
    const validate = eventValidators().transfer;
    for (const event of events.rows) expect(validate(event.payload), JSON.stringify(validate.errors)).toBe(true);
  });

  it("records the card adapter's initiated_by with the deposit, in the topup event and in the answer", async () => {
    const customer = await customerWithAccount(0n);
    const request = depositRequest(customer.accountId, customer.subject);
    const result = await callUnary(cardAdapter, cardAdapter.depositMoney, request, options());
    expect(result.deposit?.initiatedBy).toBe(customer.subject);
    const lookup = await callUnary(cardAdapter, cardAdapter.getDeposit, { depositReference: request.depositReference, voidIfAbsent: false }, options());
    expect(lookup.deposit?.initiatedBy).toBe(customer.subject);
    const { rows } = await service.pool.query<{ initiated_by: string; payload: Record<string, unknown> }>(
      `SELECT d.initiated_by, o.payload FROM bank.deposits d JOIN bank.outbox o ON o.payload->>'depositId' = d.id::text WHERE d.id = $1`,
      [result.deposit!.id],
    );
    expect(rows[0]).toMatchObject({ initiated_by: customer.subject, payload: { initiatedBy: customer.subject } });
    const validate = eventValidators().topup;
    expect(validate(rows[0]!.payload), JSON.stringify(validate.errors)).toBe(true);
  });
});

describe('roles', () => {
  it('support reads any balance but is refused every movement and account opening (PERMISSION_DENIED / ROLE_FORBIDDEN)', async () => {
    const customer = await customerWithAccount();
    const support = await as(SUPPORT_USER, ['support']);
    const balance = await callUnary(client, client.getBalance, { accountId: customer.accountId }, options(support));
    expect(balance.balance?.amountMinor).toBe(10_000n);
    for (const call of [
      callUnary(client, client.transferMoney, transferRequest(customer.accountId, ALICE), options(support)),
      // Refused before any lookup: an unknown sender gets the same 403, not a 404.
      callUnary(client, client.transferMoney, transferRequest(UNKNOWN, ALICE), options(support)),
      callUnary(client, client.createAccount, { idempotencyKey: randomUUID(), currency: 'USD', ownerId: '' }, options(support)),
    ]) {
      const failure = await failureOf(call);
      expect([failure.code, failure.reason]).toEqual([Status.PERMISSION_DENIED, 'ROLE_FORBIDDEN']);
    }
  });

  it("admin may move money out of a customer's account, and is recorded as its initiator", async () => {
    const customer = await customerWithAccount();
    const result = await callUnary(client, client.transferMoney, transferRequest(customer.accountId, ALICE), options(await callers.admin()));
    expect(result.transfer?.initiatedBy).toBe(ADMIN_USER);
  });
});

describe('CreateAccount', () => {
  it('opens an account with balance 0 for the caller, once per (owner, key)', async () => {
    const subject = `user-${randomUUID()}`;
    const headers = await as(subject);
    const first = await callUnary(client, client.createAccount, { idempotencyKey: 'open-1', currency: 'EUR', ownerId: '' }, options(headers));
    expect(first.replayed).toBe(false);
    expect(first.account).toMatchObject({ ownerId: subject, currency: 'EUR', balance: { amountMinor: 0n, currencyCode: 'EUR' } });
    expect(first.account!.createdAt).toBeInstanceOf(Date);
    const again = await callUnary(client, client.createAccount, { idempotencyKey: 'open-1', currency: 'EUR', ownerId: subject }, options(headers));
    expect(again).toEqual({ ...first, replayed: true });
    const reused = await failureOf(callUnary(client, client.createAccount, { idempotencyKey: 'open-1', currency: 'USD', ownerId: '' }, options(headers)));
    expect([reused.code, reused.reason]).toEqual([Status.FAILED_PRECONDITION, 'IDEMPOTENCY_KEY_REUSED']);
    // Keys are per owner: another user's "open-1" opens another account.
    const other = await callUnary(client, client.createAccount, { idempotencyKey: 'open-1', currency: 'EUR', ownerId: '' }, options(await as(`user-${randomUUID()}`)));
    expect(other.account!.accountId).not.toBe(first.account!.accountId);
  });

  it('opens one account for concurrent duplicates', async () => {
    const headers = await as(`user-${randomUUID()}`);
    const results = await Promise.all(
      Array.from({ length: 10 }, () => callUnary(client, client.createAccount, { idempotencyKey: 'burst', currency: 'USD', ownerId: '' }, options(headers))),
    );
    expect(new Set(results.map((r) => r.account!.accountId)).size).toBe(1);
    expect(results.filter((r) => !r.replayed)).toHaveLength(1);
  });

  it('refuses a customer opening for someone else; admin may name any owner', async () => {
    const refused = await failureOf(
      callUnary(client, client.createAccount, { idempotencyKey: randomUUID(), currency: 'USD', ownerId: BOB_USER }, options(await as(`user-${randomUUID()}`))),
    );
    expect([refused.code, refused.reason]).toEqual([Status.PERMISSION_DENIED, 'ROLE_FORBIDDEN']);
    const owner = `user-${randomUUID()}`;
    const opened = await callUnary(client, client.createAccount, { idempotencyKey: randomUUID(), currency: 'USD', ownerId: owner }, options(await callers.admin()));
    expect(opened.account?.ownerId).toBe(owner);
    // The new owner can use it at once.
    const balance = await callUnary(client, client.getBalance, { accountId: opened.account!.accountId }, options(await as(owner)));
    expect(balance.balance?.amountMinor).toBe(0n);
  });

  it('refuses a currency that is not an ISO 4217 code', async () => {
    const failure = await failureOf(callUnary(client, client.createAccount, { idempotencyKey: randomUUID(), currency: 'dollars', ownerId: '' }, options(await as('x'))));
    expect([failure.code, failure.reason, failure.fieldViolations.map((v) => v.field)]).toEqual([Status.INVALID_ARGUMENT, 'INVALID_ARGUMENT', ['currency']]);
  });
});

describe('ListAccounts', () => {
  it("lists the caller's accounts oldest first; support and admin may name an owner; a customer naming another is refused", async () => {
    const subject = `user-${randomUUID()}`;
    const headers = await as(subject);
    const opened = [];
    for (const key of ['a', 'b', 'c']) opened.push((await callUnary(client, client.createAccount, { idempotencyKey: key, currency: 'USD', ownerId: '' }, options(headers))).account!);
    const own = await callUnary(client, client.listAccounts, { ownerId: '' }, options(headers));
    expect(own.accounts).toEqual(opened);
    expect((await callUnary(client, client.listAccounts, { ownerId: subject }, options(await as(SUPPORT_USER, ['support'])))).accounts).toEqual(opened);
    expect((await callUnary(client, client.listAccounts, { ownerId: subject }, options(await callers.admin()))).accounts).toEqual(opened);
    const refused = await failureOf(callUnary(client, client.listAccounts, { ownerId: subject }, options(await as(`user-${randomUUID()}`))));
    expect([refused.code, refused.reason]).toEqual([Status.PERMISSION_DENIED, 'ROLE_FORBIDDEN']);
    expect((await callUnary(client, client.listAccounts, { ownerId: '' }, options(await as(`user-${randomUUID()}`)))).accounts).toEqual([]);
  });

  it('answers at most 100 accounts', async () => {
    const owner = `user-${randomUUID()}`;
    await service.pool.query(
      `INSERT INTO bank.accounts (id, kind, currency, owner_id) SELECT gen_random_uuid(), 'customer', 'USD', $1 FROM generate_series(1, 101)`,
      [owner],
    );
    const listed = await callUnary(client, client.listAccounts, { ownerId: '' }, options(await as(owner)));
    expect(listed.accounts).toHaveLength(100);
  });
});
