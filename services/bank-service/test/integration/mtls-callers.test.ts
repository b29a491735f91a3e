// Who may reach the bank at all (ADR 0009): every hop is mutual TLS, and the
// caller's certificate decides per RPC (src/grpc/callers.ts). A client that
// cannot complete the handshake (plaintext, no certificate, another CA,
// expired) is refused before any handler runs; a valid certificate of a
// service not in the RPC's row gets PERMISSION_DENIED / CALLER_NOT_ALLOWED;
// nothing is created either way. The hops: gateway -> bank (transfers,
// balances, accounts) and card adapter -> bank (deposits). Then rotation:
// new certificate files are picked up by the running service, without restart.
import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { status as Status } from '@grpc/grpc-js';
import { BankServiceClient, type DepositMoneyRequest, type TransferMoneyRequest } from '@wallet/contracts/bank';
import { callUnary, createGrpcClient, parseGrpcError, type GrpcTransport, type ParsedGrpcError } from '@wallet/platform';
import { createTestDatabase, waitFor, type TestDatabase } from '@wallet/testkit';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rogueClientTransport, testClientTransport, type RogueClientKind, type ServiceName } from '../../../../test/support/pki.js';
import { startBankService, type RunningBankService } from '../../src/app/service.js';
import { DEPOSITOR, startTestCallers, type TestCallers } from '../support/callers.js';
import { balanceOf, createAccounts, HEALTHY_LEDGER, ledgerInvariants, silentLogger, testConfig } from '../support/helpers.js';
import { rotatableBankCertificate, servedSerial } from '../support/tls.js';

const TIMEOUT_MS = 10_000;
const ROGUE_KINDS: RogueClientKind[] = ['plaintext', 'no-certificate', 'other-ca', 'expired'];

let db: TestDatabase;
let callers: TestCallers;
let admin: { authorization: string };
let service: RunningBankService;
let from: string;
let to: string;

beforeAll(async () => {
  db = await createTestDatabase('bank_mtls');
  callers = await startTestCallers();
  admin = await callers.admin();
  service = await startBankService(await testConfig(db.url, { ...callers.env, BANK_OUTBOX_RELAY_ENABLED: 'false' }), silentLogger);
  [from, to] = (await createAccounts(service.pool, 2, 100_000n)) as [string, string];
});

afterAll(async () => {
  await service?.close();
  await callers?.close();
  await db?.drop();
});

function clientWith(transport: GrpcTransport, port = service.grpcPort): BankServiceClient {
  return createGrpcClient(BankServiceClient, `127.0.0.1:${port}`, transport);
}

async function failureOf(promise: Promise<unknown>): Promise<ParsedGrpcError> {
  try {
    await promise;
  } catch (error) {
    return parseGrpcError(error);
  }
  throw new Error('expected the call to fail');
}

const transferRequest = (): TransferMoneyRequest => ({
  senderAccountId: from,
  recipientAccountId: to,
  amount: { amountMinor: 100n, currencyCode: 'USD' },
  idempotencyKey: randomUUID(),
  description: '',
});

const depositRequest = (): DepositMoneyRequest => ({
  accountId: to,
  amount: { amountMinor: 5_000n, currencyCode: 'USD' },
  depositReference: randomUUID(),
  topUpId: randomUUID(),
  card: { cardLast4: '4242', cardBrand: 'visa' },
  initiatedBy: DEPOSITOR,
});

/** Everything a call could have changed: balances, movements, failures, voided references. */
async function snapshot(pool: pg.Pool) {
  const { rows } = await pool.query<{ n: string }>(
    `SELECT (SELECT count(*) FROM bank.transfers) || '/' || (SELECT count(*) FROM bank.deposits) || '/' ||
            (SELECT count(*) FROM bank.transfer_failures) || '/' || (SELECT count(*) FROM bank.voided_deposit_references) || '/' ||
            (SELECT count(*) FROM bank.ledger_entries) || '/' || (SELECT count(*) FROM bank.accounts) AS n`,
  );
  return { rows: rows[0]!.n, from: await balanceOf(pool, from), to: await balanceOf(pool, to) };
}

async function deniedCount(): Promise<string> {
  const text = await (await fetch(`http://127.0.0.1:${service.opsPort}/metrics`)).text();
  return text.split('\n').filter((line) => line.startsWith('bank_grpc_callers_denied_total{')).join('\n');
}

/** The two hops into the bank and one call each makes (the money-moving one). */
const HOPS: Array<{ hop: string; as: ServiceName; call: (client: BankServiceClient) => Promise<unknown> }> = [
  { hop: 'gateway -> bank (TransferMoney)', as: 'api-gateway', call: (c) => callUnary(c, c.transferMoney, transferRequest(), { timeoutMs: TIMEOUT_MS, headers: admin }) },
  { hop: 'card adapter -> bank (DepositMoney)', as: 'bank-card-adapter', call: (c) => callUnary(c, c.depositMoney, depositRequest(), { timeoutMs: TIMEOUT_MS }) },
];

describe('a client that cannot complete the mutual-TLS handshake is refused and changes nothing', () => {
  for (const { hop, as, call } of HOPS) {
    it.each(ROGUE_KINDS)(`${hop}: %s -> UNAVAILABLE, no handler ran`, async (kind) => {
      const before = { state: await snapshot(service.pool), denied: await deniedCount() };
      const client = clientWith(await rogueClientTransport(kind, 'bank-service', as));
      try {
        const failure = await failureOf(call(client));
        expect(failure.code).toBe(Status.UNAVAILABLE);
        expect(failure.reason).toBeUndefined();
      } finally {
        client.close();
      }
      // Refused at the handshake: not even the caller table saw it.
      expect({ state: await snapshot(service.pool), denied: await deniedCount() }).toEqual(before);
    });
  }
});

describe('a valid certificate of a service not in the RPC row is refused with PERMISSION_DENIED / CALLER_NOT_ALLOWED', () => {
  const cases: Array<[ServiceName, string, (c: BankServiceClient) => Promise<unknown>]> = [
    ['analytics-service', 'TransferMoney', (c) => callUnary(c, c.transferMoney, transferRequest(), { timeoutMs: TIMEOUT_MS, headers: admin })],
    ['bank-card-adapter', 'TransferMoney', (c) => callUnary(c, c.transferMoney, transferRequest(), { timeoutMs: TIMEOUT_MS, headers: admin })],
    ['api-gateway', 'DepositMoney', (c) => callUnary(c, c.depositMoney, depositRequest(), { timeoutMs: TIMEOUT_MS, headers: admin })],
    ['api-gateway', 'GetDeposit', (c) => callUnary(c, c.getDeposit, { depositReference: randomUUID(), voidIfAbsent: true }, { timeoutMs: TIMEOUT_MS, headers: admin })],
    ['analytics-service', 'DepositMoney', (c) => callUnary(c, c.depositMoney, depositRequest(), { timeoutMs: TIMEOUT_MS })],
    ['payment-gateway-mock', 'GetBalance', (c) => callUnary(c, c.getBalance, { accountId: from }, { timeoutMs: TIMEOUT_MS, headers: admin })],
    ['bank-card-adapter', 'CreateAccount', (c) => callUnary(c, c.createAccount, { idempotencyKey: randomUUID(), currency: 'USD', ownerId: '' }, { timeoutMs: TIMEOUT_MS, headers: admin })],
    ['analytics-service', 'ListAccounts', (c) => callUnary(c, c.listAccounts, { ownerId: '' }, { timeoutMs: TIMEOUT_MS, headers: admin })],
  ];
  it.each(cases)('%s calling %s: denied before the handler, no money created or moved', async (as, rpc, call) => {
    const before = await snapshot(service.pool);
    const client = clientWith(await testClientTransport('bank-service', as));
    try {
      const failure = await failureOf(call(client));
      expect(failure).toMatchObject({ code: Status.PERMISSION_DENIED, reason: 'CALLER_NOT_ALLOWED', domain: 'bank.wallet', metadata: { caller: as, rpc } });
    } finally {
      client.close();
    }
    expect(await snapshot(service.pool)).toEqual(before);
    expect(await deniedCount()).toMatch(new RegExp(`bank_grpc_callers_denied_total\\{[^}]*caller="${as}"[^}]*\\} [1-9]`));
  });

  it('counts a refused transfer and deposit as rejections by reason (bank_*_total{outcome="caller_not_allowed"})', async () => {
    const client = clientWith(await testClientTransport('bank-service', 'analytics-service'));
    try {
      await failureOf(callUnary(client, client.transferMoney, transferRequest(), { timeoutMs: TIMEOUT_MS, headers: admin }));
      await failureOf(callUnary(client, client.depositMoney, depositRequest(), { timeoutMs: TIMEOUT_MS }));
    } finally {
      client.close();
    }
    const text = await (await fetch(`http://127.0.0.1:${service.opsPort}/metrics`)).text();
    expect(text).toMatch(/bank_transfers_total\{outcome="caller_not_allowed",service="bank-service"\} [1-9]/);
    expect(text).toMatch(/bank_deposits_total\{outcome="caller_not_allowed",service="bank-service"\} [1-9]/);
  });
});

describe('the callers in the row succeed', () => {
  it('the gateway moves money; the card adapter deposits, looks a deposit up and reads a balance; the ledger stays whole', async () => {
    const gateway = clientWith(await testClientTransport('bank-service', 'api-gateway'));
    const cardAdapter = clientWith(await testClientTransport('bank-service', 'bank-card-adapter'));
    try {
      const toBefore = await balanceOf(service.pool, to);
      const moved = await callUnary(gateway, gateway.transferMoney, transferRequest(), { timeoutMs: TIMEOUT_MS, headers: admin });
      expect(moved.replayed).toBe(false);
      const request = depositRequest();
      const deposited = await callUnary(cardAdapter, cardAdapter.depositMoney, request, { timeoutMs: TIMEOUT_MS });
      expect(deposited.deposit?.depositReference).toBe(request.depositReference);
      const lookup = await callUnary(cardAdapter, cardAdapter.getDeposit, { depositReference: request.depositReference, voidIfAbsent: false }, { timeoutMs: TIMEOUT_MS });
      expect(lookup.deposit?.id).toBe(deposited.deposit?.id);
      const balance = await callUnary(cardAdapter, cardAdapter.getBalance, { accountId: to }, { timeoutMs: TIMEOUT_MS, headers: admin });
      expect(balance.balance?.amountMinor).toBe(toBefore + 100n + 5_000n);
      expect(await ledgerInvariants(service.pool)).toEqual(HEALTHY_LEDGER);
    } finally {
      gateway.close();
      cardAdapter.close();
    }
  });
});

describe('certificate rotation', () => {
  it('a running service picks up new certificate files: new connections see the new certificate, open ones keep working, no restart', async () => {
    const certificate = await rotatableBankCertificate();
    const rotating = await startBankService(
      await testConfig(db.url, {
        ...callers.env,
        BANK_MIGRATE_ON_START: 'false',
        BANK_OUTBOX_RELAY_ENABLED: 'false',
        ...certificate.env,
        TLS_RELOAD_INTERVAL_MS: '200',
      }),
      silentLogger,
    );
    const open = clientWith(await testClientTransport('bank-service', 'api-gateway'), rotating.grpcPort);
    const balance = (client: BankServiceClient) => callUnary(client, client.getBalance, { accountId: from }, { timeoutMs: TIMEOUT_MS, headers: admin });
    try {
      await balance(open);
      expect(await servedSerial(rotating.grpcPort)).toBe(certificate.serial);

      // Calls keep flowing on the open connection while the files change under the service.
      let rotated = false;
      let answered = 0;
      const traffic = (async () => {
        while (!rotated) {
          await balance(open);
          answered += 1;
        }
      })();
      try {
        const newSerial = await certificate.rotate();
        expect(newSerial).not.toBe(certificate.serial);
        await waitFor(async () => (await servedSerial(rotating.grpcPort)) === newSerial, { timeoutMs: 15_000, what: 'new connections to see the new certificate' });
      } finally {
        rotated = true;
      }
      await traffic;
      expect(answered).toBeGreaterThan(0);

      // The open channel still answers, and a new client verifies the new certificate.
      await balance(open);
      const fresh = clientWith(await testClientTransport('bank-service', 'api-gateway'), rotating.grpcPort);
      try {
        expect((await balance(fresh)).accountId).toBe(from);
      } finally {
        fresh.close();
      }
    } finally {
      open.close();
      await rotating.close();
      rmSync(certificate.dir, { recursive: true, force: true });
    }
  });
});
