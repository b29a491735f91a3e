// The outbox's timeouts must agree with each other; a contradiction stops the service at start.
import { describe, expect, it } from 'vitest';
import { loadBankSettings } from '../../src/config.js';

describe('outbox configuration', () => {
  it('refuses a publish timeout shorter than the Kafka client may take for one send', () => {
    expect(() => loadBankSettings({ BANK_KAFKA_REQUEST_TIMEOUT_MS: '10000', BANK_OUTBOX_PUBLISH_TIMEOUT_MS: '15000' })).toThrow(/BANK_OUTBOX_PUBLISH_TIMEOUT_MS: must be at least 3 x BANK_KAFKA_REQUEST_TIMEOUT_MS/);
  });

  it('refuses a minimum retry delay above the maximum', () => {
    expect(() => loadBankSettings({ BANK_OUTBOX_RETRY_DELAY_MS_MIN: '5000', BANK_OUTBOX_RETRY_DELAY_MS_MAX: '1000' })).toThrow(/BANK_OUTBOX_RETRY_DELAY_MS_MIN/);
  });

  it('accepts the defaults', () => {
    expect(loadBankSettings({}).BANK_OUTBOX_PUBLISH_TIMEOUT_MS).toBeGreaterThanOrEqual(3 * loadBankSettings({}).BANK_KAFKA_REQUEST_TIMEOUT_MS);
  });
});
