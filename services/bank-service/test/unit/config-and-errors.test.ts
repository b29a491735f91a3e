import { ConfigError } from '@wallet/platform';
import { describe, expect, it } from 'vitest';
import { bankConfigSchema, loadBankConfig } from '../../src/config.js';
import { isConflictError, isConnectionError, isTimeoutError } from '@wallet/platform/db';
import { toStorageError } from '../../src/app/storage-errors.js';
import { StorageUnavailableError } from '../../src/domain/errors.js';

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
  ])('rejects %s=%s naming the variable', (name, value) => {
    try {
      loadBankConfig({ [name]: value });
      throw new Error('expected a ConfigError');
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).message).toContain(name);
    }
  });

  it('verifies tokens against the local identity-service by default and knows the card adapter by a development credential', () => {
    expect(loadBankConfig({})).toMatchObject({
      AUTH_ISSUER: 'http://127.0.0.1:8090',
      AUTH_AUDIENCE: 'wallet-api',
      AUTH_ROLES_CLAIM: 'roles',
      BANK_CARD_ADAPTER_CREDENTIAL: 'dev-card-adapter-credential',
      BANK_OWNER_CACHE_SIZE_MAX: 100_000,
    });
  });

  it('refuses to start in production without a card adapter credential of its own (never the built-in one)', () => {
    for (const env of [{ NODE_ENV: 'production' }, { NODE_ENV: 'production', BANK_CARD_ADAPTER_CREDENTIAL: 'dev-card-adapter-credential' }]) {
      expect(() => loadBankConfig(env)).toThrow(/BANK_CARD_ADAPTER_CREDENTIAL/);
    }
    expect(loadBankConfig({ NODE_ENV: 'production', BANK_CARD_ADAPTER_CREDENTIAL: 'a-real-secret-of-32-characters!!' }).BANK_CARD_ADAPTER_CREDENTIAL).toBe(
      'a-real-secret-of-32-characters!!',
    );
    expect(() => loadBankConfig({ BANK_CARD_ADAPTER_CREDENTIAL: 'short' })).toThrow(/BANK_CARD_ADAPTER_CREDENTIAL/);
    expect(() => loadBankConfig({ AUTH_ISSUER: 'not a url' })).toThrow(/AUTH_ISSUER/);
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
