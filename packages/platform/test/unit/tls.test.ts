import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '@wallet/platform';
import { z } from 'zod';
import {
  CALLER_NOT_ALLOWED,
  CALLER_UNAUTHENTICATED,
  ReloadingCertificateProvider,
  authorizeCallers,
  certificateDnsNames,
  decideCaller,
  peerServiceName,
  http2SessionOf,
  createGrpcSecurity,
  grpcSecurityOptions,
  readTlsMaterial,
  tlsConfigShape,
  tlsOptionsFromConfig,
  type CallerTable,
} from '@wallet/platform/tls';
import { BankServiceService, type BankServiceServer } from '@wallet/contracts/bank';
import { BankCardAdapterServiceService, type BankCardAdapterServiceServer } from '@wallet/contracts/card-adapter';
import { AnalyticsServiceService, type AnalyticsServiceServer } from '@wallet/contracts/analytics';
import { ensurePki, issueServiceCertificate, loadCa, writeServiceFiles, type Pki } from '../../../../scripts/lib/pki.mjs';

let dir: string;
let pki: Pki;
beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'wallet-tls-unit-'));
  pki = await ensurePki({ dir, services: ['bank-service'] });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function bankFiles() {
  return { caFile: pki.caFile, ...pki.services['bank-service']! };
}

describe('caller identity', () => {
  it('reads DNS names from a subjectAltName and ignores IP entries', () => {
    expect(certificateDnsNames({ subjectaltname: 'DNS:bank-card-adapter, DNS:localhost, IP Address:127.0.0.1' })).toEqual(['bank-card-adapter', 'localhost']);
    expect(certificateDnsNames(undefined)).toEqual([]);
  });

  it('is the first SAN DNS name other than localhost, and null without a verified certificate', () => {
    const call = (context: object | null) => ({ getAuthContext: () => context });
    const cert = { raw: Buffer.from([1]), subjectaltname: 'DNS:localhost, DNS:api-gateway' };
    expect(peerServiceName(call({ transportSecurityType: 'ssl', sslPeerCertificate: cert }))).toBe('api-gateway');
    expect(peerServiceName(call({}))).toBeNull(); // plaintext, or a certificate the server did not authorize
    expect(peerServiceName(call({ transportSecurityType: 'ssl' }))).toBeNull();
    expect(peerServiceName(call({ transportSecurityType: 'ssl', sslPeerCertificate: { ...cert, subjectaltname: 'DNS:localhost' } }))).toBeNull();
  });

  it('reads the certificate once per HTTP/2 session and remembers the answer for that session only', () => {
    const cert = { raw: Buffer.from([1]), subjectaltname: 'DNS:api-gateway' };
    let reads = 0;
    const callOn = (session: object, context: object) => ({
      // grpc-js 1.14: the handler's call wraps an intercepting call chain ending in the stream.
      call: { nextCall: { stream: { session } } },
      getAuthContext: (): object => {
        reads += 1;
        return context;
      },
    });
    const first = {};
    const second = {};
    expect(peerServiceName(callOn(first, { transportSecurityType: 'ssl', sslPeerCertificate: cert }))).toBe('api-gateway');
    expect(peerServiceName(callOn(first, { transportSecurityType: 'ssl', sslPeerCertificate: cert }))).toBe('api-gateway');
    expect(reads).toBe(1);
    // Another connection is checked on its own (here: no certificate), and its null is remembered too.
    expect(peerServiceName(callOn(second, {}))).toBeNull();
    expect(peerServiceName(callOn(second, { transportSecurityType: 'ssl', sslPeerCertificate: cert }))).toBeNull();
    expect(reads).toBe(2);
  });

  it('without a recognisable grpc-js call shape, reads the certificate on every call', () => {
    let reads = 0;
    const context: object = { transportSecurityType: 'ssl', sslPeerCertificate: { raw: Buffer.from([1]), subjectaltname: 'DNS:api-gateway' } };
    const call = { call: { nextCall: { other: true } }, getAuthContext: (): object => ((reads += 1), context) };
    expect(http2SessionOf(call)).toBeUndefined();
    expect(peerServiceName(call)).toBe('api-gateway');
    expect(peerServiceName(call)).toBe('api-gateway');
    expect(reads).toBe(2);
  });
});

describe('decideCaller', () => {
  const table = { depositMoney: ['bank-card-adapter'], getBalance: [] };
  it('allows only listed callers of listed RPCs', () => {
    expect(decideCaller(table, 'depositMoney', 'bank-card-adapter')).toBeNull();
    expect(decideCaller(table, 'depositMoney', 'api-gateway')).toEqual({ rpc: 'depositMoney', caller: 'api-gateway', reason: CALLER_NOT_ALLOWED });
    expect(decideCaller(table, 'getBalance', 'bank-card-adapter')?.reason).toBe(CALLER_NOT_ALLOWED);
    expect(decideCaller(table, 'createAccount', 'bank-card-adapter')?.reason).toBe(CALLER_NOT_ALLOWED);
    expect(decideCaller(table, 'toString', 'bank-card-adapter')?.reason).toBe(CALLER_NOT_ALLOWED); // no prototype lookups
    expect(decideCaller(table, 'depositMoney', null)?.reason).toBe(CALLER_UNAUTHENTICATED);
  });
});

describe('tlsOptionsFromConfig', () => {
  const files = { TLS_CA_FILE: 'ca.pem', TLS_CERT_FILE: 'svc.pem', TLS_KEY_FILE: 'svc-key.pem', TLS_RELOAD_INTERVAL_MS: 5_000 };
  it('returns the provider options, or null when TLS is optional and unset', () => {
    expect(tlsOptionsFromConfig(files, { required: true })).toEqual({ caFile: 'ca.pem', certFile: 'svc.pem', keyFile: 'svc-key.pem', reloadIntervalMs: 5_000 });
    expect(tlsOptionsFromConfig({ TLS_RELOAD_INTERVAL_MS: 1 }, { required: false })).toBeNull();
  });

  it('names every missing variable when partly set, or unset while required', () => {
    const problemsOf = (run: () => unknown): string[] => {
      try {
        run();
        return [];
      } catch (error) {
        return (error as ConfigError).problems;
      }
    };
    expect(problemsOf(() => tlsOptionsFromConfig({ ...files, TLS_KEY_FILE: undefined }, { required: false }))).toEqual([
      'TLS_KEY_FILE: missing (set all three TLS file variables or none)',
    ]);
    expect(problemsOf(() => tlsOptionsFromConfig({ TLS_RELOAD_INTERVAL_MS: 1 }, { required: true }))).toHaveLength(3);
  });
});

describe('grpcSecurityOptions: mutual TLS is required, plaintext only through the bench hook', () => {
  const schema = z.object(tlsConfigShape);
  const problemsOf = (env: NodeJS.ProcessEnv): string[] => {
    try {
      grpcSecurityOptions(loadConfig(schema, env));
      return [];
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      return error.problems;
    }
  };

  it('refuses to run without the TLS files, naming each variable, in every mode', () => {
    expect(problemsOf({})).toEqual([
      'TLS_CA_FILE: missing (mutual TLS is required)',
      'TLS_CERT_FILE: missing (mutual TLS is required)',
      'TLS_KEY_FILE: missing (mutual TLS is required)',
    ]);
  });

  it('gives the files when set, and plaintext only with WALLET_TEST_GRPC_PLAINTEXT outside production', () => {
    expect(grpcSecurityOptions(loadConfig(schema, { TLS_CA_FILE: 'ca.pem', TLS_CERT_FILE: 'svc.pem', TLS_KEY_FILE: 'svc-key.pem' }))).toMatchObject({
      caFile: 'ca.pem',
      certFile: 'svc.pem',
      keyFile: 'svc-key.pem',
    });
    expect(grpcSecurityOptions(loadConfig(schema, { WALLET_TEST_GRPC_PLAINTEXT: 'true' }))).toBe('plaintext');
    expect(problemsOf({ WALLET_TEST_GRPC_PLAINTEXT: 'true', NODE_ENV: 'production' })).toEqual([
      'WALLET_TEST_GRPC_PLAINTEXT: test-only hook, refused when NODE_ENV=production (unset it)',
    ]);
    expect(problemsOf({ WALLET_TEST_GRPC_PLAINTEXT: 'true', TLS_CA_FILE: 'ca.pem' })).toEqual([
      'WALLET_TEST_GRPC_PLAINTEXT: cannot be combined with TLS_CA_FILE',
    ]);
  });
});

describe('createGrpcSecurity', () => {
  it('listens for SIGHUP from creation until close, so a reload signal never ends a process whose channels are idle', async () => {
    const { pino } = await import('pino');
    const before = process.listenerCount('SIGHUP');
    const security = createGrpcSecurity({ ...bankFiles(), reloadIntervalMs: 0 }, { logger: pino({ level: 'silent' }) });
    expect(process.listenerCount('SIGHUP')).toBe(before + 1);
    security.close();
    expect(process.listenerCount('SIGHUP')).toBe(before);
  });
});

describe('ReloadingCertificateProvider', () => {
  it('refuses to start on a key that does not match the certificate, naming the files', async () => {
    const ca = await loadCa(readFileSync(pki.caFile, 'utf8'), readFileSync(pki.caKeyFile, 'utf8'));
    const other = await issueServiceCertificate(ca, 'bank-service');
    const mismatched = path.join(dir, 'mismatched-key.pem');
    writeFileSync(mismatched, other.keyPem);
    expect(() => readTlsMaterial({ ...bankFiles(), keyFile: mismatched })).toThrow(/bank-service\.pem .*unusable/);
    expect(() => new ReloadingCertificateProvider({ ...bankFiles(), caFile: path.join(dir, 'absent.pem') })).toThrow(/cannot read CA file .*absent\.pem \(ENOENT\)/);
  });

  it('picks up rotated files on its timer and tells its listeners', async () => {
    const own = path.join(dir, 'timer');
    const files = { caFile: pki.caFile, ...writeServiceFiles(own, 'bank-service', { certPem: readFileSync(bankFiles().certFile, 'utf8'), keyPem: readFileSync(bankFiles().keyFile, 'utf8') }) };
    const events: string[] = [];
    const provider = new ReloadingCertificateProvider({ ...files, reloadIntervalMs: 50, reloadOnSighup: false, onReload: (event) => events.push(event.outcome) });
    const seen: Buffer[] = [];
    provider.addIdentityCertificateListener((update) => update && seen.push(update.certificate));
    try {
      const ca = await loadCa(readFileSync(pki.caFile, 'utf8'), readFileSync(pki.caKeyFile, 'utf8'));
      const renewed = await issueServiceCertificate(ca, 'bank-service');
      writeServiceFiles(own, 'bank-service', renewed);
      const deadline = Date.now() + 10_000;
      while (!seen.some((cert) => cert.toString() === renewed.certPem)) {
        if (Date.now() > deadline) throw new Error('no reload within 10 s');
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      expect(events).toContain('reloaded');
    } finally {
      provider.close();
    }
  });
});

describe('caller tables of ADR 0009 against the generated contracts', () => {
  it('type-check as exhaustive tables (a missing or misspelt RPC is a compile error)', () => {
    const gateway = ['api-gateway'] as const;
    const bank: CallerTable<BankServiceServer> = {
      transferMoney: gateway,
      getBalance: ['api-gateway', 'bank-card-adapter'],
      createAccount: gateway,
      listAccounts: gateway,
      depositMoney: ['bank-card-adapter'],
      getDeposit: ['bank-card-adapter'],
      createHold: gateway,
      captureHold: gateway,
      voidHold: gateway,
      getHold: gateway,
      reverseTransfer: gateway,
      listReversals: gateway,
      refundDeposit: ['bank-card-adapter'],
      getRefund: ['bank-card-adapter'],
      cancelRefund: ['bank-card-adapter'],
      getAccountLimits: gateway,
      setAccountLimits: gateway,
      getBalanceAt: gateway,
      getStatement: gateway,
      getLedgerTotals: ['analytics-service'],
      verifyLedger: gateway,
      getAccountOwners: ['webhook-service'],
    };
    const analytics: CallerTable<AnalyticsServiceServer> = { getOperations: gateway, getAccountSummary: gateway };
    const cardAdapter: CallerTable<BankCardAdapterServiceServer> = { processCardTopUp: gateway, getTopUp: gateway, refundTopUp: gateway, getTopUpRefund: gateway };
    expect(Object.keys(bank).sort()).toEqual(Object.keys(BankServiceService).sort());
    expect(Object.keys(analytics).sort()).toEqual(Object.keys(AnalyticsServiceService).sort());
    expect(Object.keys(cardAdapter).sort()).toEqual(Object.keys(BankCardAdapterServiceService).sort());
  });
});

describe('authorizeCallers (handlers called directly with fake calls)', () => {
  const method = (name: string, responseStream: boolean) => ({
    path: `/wallet.test.v1.T/${name}`,
    requestStream: false,
    responseStream,
    originalName: name,
    requestSerialize: (value: Buffer) => value,
    requestDeserialize: (value: Buffer) => value,
    responseSerialize: (value: Buffer) => value,
    responseDeserialize: (value: Buffer) => value,
  });
  const definition = { deposit: method('Deposit', false), watch: method('Watch', true) };
  const callFrom = (caller: string) => {
    const errors: unknown[] = [];
    const call = {
      getAuthContext: () => ({ transportSecurityType: 'ssl', sslPeerCertificate: { raw: Buffer.from([1]), subjectaltname: `DNS:${caller}` } }),
      emit: (_event: string, error: unknown) => errors.push(error),
    };
    return { call, errors };
  };

  it('finds a handler registered under the RPC original name, and answers a denied streaming call through an error event', () => {
    const ran: string[] = [];
    const implementation = { Deposit: () => ran.push('Deposit'), watch: () => ran.push('watch') };
    const wrapped = authorizeCallers(definition, implementation, { Deposit: ['bank-card-adapter'], watch: ['api-gateway'] } as never, {
      domain: 'test.wallet',
    }) as unknown as Record<string, (call: unknown, callback?: (error: { code: number } | null) => void) => void>;
    const answers: Array<{ code: number } | null> = [];
    wrapped.deposit!(callFrom('bank-card-adapter').call, (error) => answers.push(error));
    expect(ran).toEqual(['Deposit']);

    const denied = callFrom('bank-card-adapter');
    wrapped.watch!(denied.call);
    expect(ran).toEqual(['Deposit']);
    expect(denied.errors).toEqual([expect.objectContaining({ code: status.PERMISSION_DENIED })]);
  });
});
