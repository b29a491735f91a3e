import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ConfigError } from '@wallet/platform';
import { describe, expect, it } from 'vitest';
import { loadGatewayConfig } from '../../src/config.js';

// loadGatewayConfig: mutual TLS required for gRPC, HTTPS files both or
// neither, REDIS_URL (it carries the Valkey password) from REDIS_URL_FILE.

const TLS = { TLS_CA_FILE: '/pki/ca.pem', TLS_CERT_FILE: '/pki/api-gateway.pem', TLS_KEY_FILE: '/pki/api-gateway-key.pem' };
const REDIS_URL = 'redis://:s3cret-valkey@valkey:6379';

function problemsOf(env: NodeJS.ProcessEnv): string[] {
  try {
    loadGatewayConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
}

function secretFile(content: string): string {
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'gateway-secret-')), 'redis-url');
  writeFileSync(file, `${content}\n`, { mode: 0o600 });
  return file;
}

describe('loadGatewayConfig', () => {
  it('keeps the mutual-TLS files for the gRPC clients', () => {
    const config = loadGatewayConfig(TLS);
    expect(config.grpcSecurity).toMatchObject({ caFile: TLS.TLS_CA_FILE, certFile: TLS.TLS_CERT_FILE, keyFile: TLS.TLS_KEY_FILE });
  });

  it('refuses to start without the TLS files, naming them (plaintext only with the bench hook)', () => {
    expect(problemsOf({})).toEqual([expect.stringMatching(/^TLS_CA_FILE: missing/), expect.stringMatching(/^TLS_CERT_FILE/), expect.stringMatching(/^TLS_KEY_FILE/)]);
    expect(problemsOf({ TLS_CA_FILE: TLS.TLS_CA_FILE })).toEqual([expect.stringMatching(/^TLS_CERT_FILE/), expect.stringMatching(/^TLS_KEY_FILE/)]);
    expect(loadGatewayConfig({ WALLET_TEST_GRPC_PLAINTEXT: 'true' }).grpcSecurity).toBe('plaintext');
    expect(problemsOf({ NODE_ENV: 'production', WALLET_TEST_GRPC_PLAINTEXT: 'true' }).join('\n')).toMatch(/WALLET_TEST_GRPC_PLAINTEXT/);
  });

  it('HTTPS_CERT_FILE and HTTPS_KEY_FILE: both or neither', () => {
    expect(problemsOf({ ...TLS, HTTPS_CERT_FILE: '/tls/public.pem' })).toEqual([expect.stringMatching(/^HTTPS_KEY_FILE: missing \(set HTTPS_CERT_FILE and HTTPS_KEY_FILE together/)]);
    expect(problemsOf({ ...TLS, HTTPS_KEY_FILE: '/tls/public-key.pem' })).toEqual([expect.stringMatching(/^HTTPS_CERT_FILE: missing/)]);
    const both = loadGatewayConfig({ ...TLS, HTTPS_CERT_FILE: '/tls/public.pem', HTTPS_KEY_FILE: '/tls/public-key.pem' });
    expect(both).toMatchObject({ HTTPS_CERT_FILE: '/tls/public.pem', HTTPS_KEY_FILE: '/tls/public-key.pem' });
    expect(loadGatewayConfig(TLS).HTTPS_CERT_FILE).toBeUndefined();
  });

  it('REDIS_URL may come from REDIS_URL_FILE and stays optional', () => {
    expect(loadGatewayConfig({ ...TLS, REDIS_URL_FILE: secretFile(REDIS_URL) }).REDIS_URL).toBe(REDIS_URL);
    expect(loadGatewayConfig({ ...TLS, REDIS_URL }).REDIS_URL).toBe(REDIS_URL);
    expect(loadGatewayConfig(TLS).REDIS_URL).toBeUndefined();
    expect(loadGatewayConfig({ ...TLS, NODE_ENV: 'production', CORS_ORIGINS: 'https://wallet.example' }).REDIS_URL).toBeUndefined();
  });

  it('in production REDIS_URL (it holds the Valkey password) must come from a file; the message never quotes it', () => {
    const production = { ...TLS, NODE_ENV: 'production', CORS_ORIGINS: 'https://wallet.example' };
    const problems = problemsOf({ ...production, REDIS_URL });
    expect(problems).toEqual([expect.stringMatching(/^REDIS_URL: a secret given inline in the environment is refused .* REDIS_URL_FILE/)]);
    expect(problems.join('\n')).not.toContain('s3cret-valkey');
    expect(loadGatewayConfig({ ...production, REDIS_URL_FILE: secretFile(REDIS_URL) }).REDIS_URL).toBe(REDIS_URL);
    const bad = problemsOf({ ...production, REDIS_URL_FILE: secretFile('http://not-redis') }).join('\n');
    expect(bad).toMatch(/^REDIS_URL/);
    expect(bad).not.toContain('not-redis');
  });

  it('gRPC addresses: one server, a list of replicas or dns:///; a bad one names its variable', () => {
    const config = loadGatewayConfig({
      ...TLS,
      GATEWAY_BANK_GRPC_ADDRESS: '127.0.0.1:50051,127.0.0.1:50061',
      GATEWAY_CARD_ADAPTER_GRPC_ADDRESS: 'dns:///bank-card-adapter:50052',
      GATEWAY_ANALYTICS_GRPC_ADDRESS: 'analytics:50053',
    });
    expect(config.GATEWAY_BANK_GRPC_ADDRESS).toBe('ipv4:127.0.0.1:50051,127.0.0.1:50061');
    expect(config.GATEWAY_CARD_ADAPTER_GRPC_ADDRESS).toBe('dns:///bank-card-adapter:50052');
    expect(config.GATEWAY_ANALYTICS_GRPC_ADDRESS).toBe('analytics:50053');
    expect(problemsOf({ ...TLS, GATEWAY_BANK_GRPC_ADDRESS: 'bank' })).toEqual([expect.stringMatching(/^GATEWAY_BANK_GRPC_ADDRESS: .*host:port/)]);
  });

  it('GATEWAY_DRAIN_MS must leave room within GATEWAY_SHUTDOWN_TIMEOUT_MS', () => {
    expect(loadGatewayConfig(TLS)).toMatchObject({ GATEWAY_DRAIN_MS: 5000, GATEWAY_SHUTDOWN_TIMEOUT_MS: 10_000, GATEWAY_REQUESTS_IN_FLIGHT_MAX: 1024, GATEWAY_EVENT_LOOP_DELAY_MS_MAX: 1000 });
    expect(loadGatewayConfig({ ...TLS, GATEWAY_DRAIN_MS: '0' }).GATEWAY_DRAIN_MS).toBe(0);
    expect(problemsOf({ ...TLS, GATEWAY_DRAIN_MS: '10000' })).toEqual([expect.stringMatching(/^GATEWAY_DRAIN_MS: must be below GATEWAY_SHUTDOWN_TIMEOUT_MS/)]);
  });
});
