// The analytics configuration: defaults that work locally, and the combinations it refuses.
import { loadConfig } from '@wallet/platform';
import { describe, expect, it } from 'vitest';
import { configSchema } from '../../src/config.js';

describe('analytics configuration', () => {
  it('has local defaults with static membership and bounded engine memory', () => {
    const config = loadConfig(configSchema, {});
    expect(config).toMatchObject({ ANALYTICS_GRPC_PORT: 50053, ANALYTICS_OPS_PORT: 9103, ANALYTICS_KAFKA_STATIC_MEMBERSHIP: true, ANALYTICS_MEMORY_ENGINE_MIB_MAX: 768 });
    expect(config.ANALYTICS_KAFKA_OPERATIONS_TOPIC).toBe('wallet.operations');
  });

  it('refuses the test hook WALLET_TEST_HOLD_BEFORE_COMMIT when NODE_ENV=production', () => {
    expect(() => loadConfig(configSchema, { NODE_ENV: 'production', WALLET_TEST_HOLD_BEFORE_COMMIT: 'true' })).toThrow(/WALLET_TEST_HOLD_BEFORE_COMMIT: test hook refused/);
    expect(loadConfig(configSchema, { WALLET_TEST_HOLD_BEFORE_COMMIT: 'true' }).WALLET_TEST_HOLD_BEFORE_COMMIT).toBe(true);
  });

  it('refuses a per-query memory cap above the engine cap and a heartbeat too close to the session timeout', () => {
    expect(() => loadConfig(configSchema, { ANALYTICS_MEMORY_QUERY_MIB_MAX: '1024', ANALYTICS_MEMORY_ENGINE_MIB_MAX: '512' })).toThrow(/ANALYTICS_MEMORY_QUERY_MIB_MAX/);
    expect(() => loadConfig(configSchema, { ANALYTICS_KAFKA_SESSION_TIMEOUT_MS: '6000', ANALYTICS_KAFKA_HEARTBEAT_INTERVAL_MS: '3000' })).toThrow(/ANALYTICS_KAFKA_HEARTBEAT_INTERVAL_MS/);
  });
});
