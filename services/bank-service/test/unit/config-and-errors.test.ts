import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '@wallet/platform';
import { describe, expect, it } from 'vitest';
import { bankConfigSchema, DEVELOPMENT_DATABASE_URL, loadBankConfig as loadWithoutTls, loadBankSettings } from '../../src/config.js';
import { relaySessionName } from '../../src/app/service.js';

/** Paths only: the files are read when the service starts, not when the config is validated. */
const TLS = { TLS_CA_FILE: '/run/secrets/ca.pem', TLS_CERT_FILE: '/run/secrets/bank-service.pem', TLS_KEY_FILE: '/run/secrets/bank-service-key.pem' };
const loadBankConfig = (env: NodeJS.ProcessEnv) => loadWithoutTls({ ...TLS, ...env });

function problemsOf(load: () => unknown): string {
  try {
    load();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).message;
  }
  throw new Error('expected a ConfigError');
}
import { isConflictError, isConnectionError, isTimeoutError } from '@wallet/platform/db';
import { toStorageError } from '../../src/app/storage-errors.js';
import { StorageUnavailableError } from '../../src/domain/errors.js';

let secretDir: string | undefined;
function secretFile(content: string): string {
  secretDir ??= mkdtempSync(join(tmpdir(), 'bank-secrets-'));
  const file = join(secretDir, `secret-${Math.random().toString(36).slice(2)}`);
  writeFileSync(file, content, { mode: 0o600 });
  return file;
}

describe('configuration', () => {
  it('has working local defaults', () => {
    const config = loadBankConfig({});
    expect(config).toMatchObject({ BANK_GRPC_PORT: 50051, BANK_OPS_PORT: 9101, BANK_MIGRATE_ON_START: true, BANK_GRPC_HOST: '127.0.0.1' });
    expect(config.BANK_TRANSFER_AMOUNT_MAX).toBe(100_000_000n);
    expect(config).toMatchObject({
      BANK_GROUP_COMMIT_ENABLED: true,
      BANK_GROUP_COMMIT_BATCH_SIZE_MAX: 128,
      BANK_GROUP_COMMIT_QUEUE_SIZE_MAX: 1_000,
      BANK_GROUP_COMMIT_WORKERS: 4,
      BANK_GROUP_COMMIT_LINGER_MS: 0,
    });
  });

  it('parses amounts exactly and flags', () => {
    const config = loadBankConfig({ BANK_TRANSFER_AMOUNT_MAX: '250.5', BANK_MIGRATE_ON_START: 'false' });
    expect(config.BANK_TRANSFER_AMOUNT_MAX).toBe(25_050n);
    expect(config.BANK_MIGRATE_ON_START).toBe(false);
  });

  it.each([
    ['BANK_GRPC_PORT', '70000'],
    ['BANK_TRANSFER_AMOUNT_MAX', '1.005'],
    ['BANK_TRANSFER_AMOUNT_MAX', '0'],
    ['BANK_MIGRATE_ON_START', 'yes'],
    ['BANK_DATABASE_CONNECTIONS_MAX', '0'],
    ['BANK_GROUP_COMMIT_BATCH_SIZE_MAX', '0'],
    ['BANK_GROUP_COMMIT_WORKERS', '0'],
    ['BANK_GROUP_COMMIT_ENABLED', 'maybe'],
    ['BANK_REPLICA_ID', 'bank 2'],
    ['BANK_REPLICA_ID', 'x'.repeat(51)],
  ])('rejects %s=%s naming the variable', (name, value) => {
    expect(problemsOf(() => loadBankConfig({ [name]: value }))).toContain(name);
  });

  it('names the relay session after BANK_REPLICA_ID, or the process id without one', () => {
    expect(relaySessionName(loadBankConfig({ BANK_REPLICA_ID: '2' }))).toBe('bank-service/2');
    // A Kubernetes pod name (deploy/kubernetes sets the pod name) is accepted.
    expect(relaySessionName(loadBankConfig({ BANK_REPLICA_ID: 'e-wallet-bank-service-7d9f8c6b5d-x2k4q' }))).toBe('bank-service/e-wallet-bank-service-7d9f8c6b5d-x2k4q');
    expect(relaySessionName(loadBankConfig({}))).toBe(`bank-service/${process.pid}`);
  });

  it('verifies tokens against the local identity-service by default and has no shared service credential any more', () => {
    const config = loadBankConfig({});
    expect(config).toMatchObject({ AUTH_ISSUER: 'http://127.0.0.1:8090', AUTH_AUDIENCE: 'wallet-api', AUTH_ROLES_CLAIM: 'roles', BANK_OWNER_CACHE_SIZE_MAX: 100_000 });
    expect(Object.keys(bankConfigSchema.shape)).not.toContain('BANK_CARD_ADAPTER_CREDENTIAL');
    expect(() => loadBankConfig({ AUTH_ISSUER: 'not a url' })).toThrow(/AUTH_ISSUER/);
  });

  it('requires mutual TLS in every mode, naming each missing file variable', () => {
    expect(loadBankConfig({}).grpcSecurity).toMatchObject({ caFile: TLS.TLS_CA_FILE, certFile: TLS.TLS_CERT_FILE, keyFile: TLS.TLS_KEY_FILE, reloadIntervalMs: 60_000 });
    expect(problemsOf(() => loadWithoutTls({}))).toMatch(/TLS_CA_FILE[\s\S]*TLS_CERT_FILE[\s\S]*TLS_KEY_FILE/);
    const { TLS_CA_FILE: _ca, ...withoutCa } = TLS;
    expect(problemsOf(() => loadWithoutTls(withoutCa))).toContain('TLS_CA_FILE: missing');
    // Plaintext only through the bench hook, never together with the files, never in production.
    expect(loadWithoutTls({ WALLET_TEST_GRPC_PLAINTEXT: 'true' }).grpcSecurity).toBe('plaintext');
    expect(problemsOf(() => loadBankConfig({ WALLET_TEST_GRPC_PLAINTEXT: 'true' }))).toContain('WALLET_TEST_GRPC_PLAINTEXT');
    expect(problemsOf(() => loadWithoutTls({ WALLET_TEST_GRPC_PLAINTEXT: 'true', NODE_ENV: 'production', DATABASE_URL_FILE: secretFile('postgresql://u:p@db/bank') }))).toContain(
      'WALLET_TEST_GRPC_PLAINTEXT',
    );
    // The command line tools serve no gRPC: they need no certificate.
    expect(loadBankSettings({}).DATABASE_URL).toBe(DEVELOPMENT_DATABASE_URL);
  });

  it('reads DATABASE_URL from DATABASE_URL_FILE, and in production only from there (inline, missing or the dev default refused, never printed)', () => {
    const url = 'postgresql://bank_service:s3cret-password@db.internal:5432/bank';
    expect(loadBankConfig({ DATABASE_URL_FILE: secretFile(`${url}\n`) }).DATABASE_URL).toBe(url);
    expect(loadBankConfig({ NODE_ENV: 'production', DATABASE_URL_FILE: secretFile(url) }).DATABASE_URL).toBe(url);
    const inline = problemsOf(() => loadBankConfig({ NODE_ENV: 'production', DATABASE_URL: url }));
    expect(inline).toContain('DATABASE_URL');
    expect(inline).not.toContain('s3cret-password');
    expect(problemsOf(() => loadBankConfig({ NODE_ENV: 'production' }))).toContain('DATABASE_URL');
    expect(problemsOf(() => loadBankConfig({ NODE_ENV: 'production', DATABASE_URL_FILE: secretFile(DEVELOPMENT_DATABASE_URL) }))).toContain('DATABASE_URL');
    expect(loadBankConfig({}).DATABASE_URL).toBe(DEVELOPMENT_DATABASE_URL);
  });

  it('exports its schema with the shared variable names', () => {
    expect(Object.keys(bankConfigSchema.shape)).toEqual(expect.arrayContaining(['BANK_GRPC_HOST', 'BANK_GRPC_PORT', 'BANK_OPS_PORT', 'LOG_LEVEL', 'DATABASE_URL']));
  });
});

describe('database error classification', () => {
  it('recognises lost and refused connections', () => {
    expect(isConnectionError(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' }))).toBe(true);
    expect(isConnectionError(Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' }))).toBe(true);
    expect(isConnectionError(new Error('Connection terminated unexpectedly'))).toBe(true);
    expect(isConnectionError(new AggregateError([Object.assign(new Error('x'), { code: 'ECONNREFUSED' })]))).toBe(true);
    expect(isConnectionError(Object.assign(new Error('duplicate key'), { code: '23505' }))).toBe(false);
  });

  it('maps timeouts, conflicts and connectivity to STORAGE_UNAVAILABLE and leaves other errors alone', () => {
    const timeout = Object.assign(new Error('canceling statement due to statement timeout'), { code: '57014' });
    const deadlock = Object.assign(new Error('deadlock detected'), { code: '40P01' });
    expect(isTimeoutError(timeout)).toBe(true);
    expect(isConflictError(deadlock)).toBe(true);
    expect(toStorageError(timeout)).toBeInstanceOf(StorageUnavailableError);
    expect(toStorageError(deadlock)).toBeInstanceOf(StorageUnavailableError);
    const other = new Error('boom');
    expect(toStorageError(other)).toBe(other);
  });
});
