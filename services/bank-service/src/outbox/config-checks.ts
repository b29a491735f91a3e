// Cross-field checks of the outbox settings, run when the configuration loads
// (a bad combination stops the service with a message naming the variables).
import type { z } from 'zod';
import { KAFKA_SEND_ATTEMPTS } from './kafka-publisher.js';

export interface OutboxTimeouts {
  BANK_KAFKA_REQUEST_TIMEOUT_MS: number;
  BANK_OUTBOX_PUBLISH_TIMEOUT_MS: number;
  BANK_OUTBOX_RETRY_DELAY_MS_MIN: number;
  BANK_OUTBOX_RETRY_DELAY_MS_MAX: number;
}

export function checkOutboxTimeouts(config: OutboxTimeouts, ctx: z.RefinementCtx): void {
  // The client retries a send internally; a relay timeout shorter than all its attempts
  // abandons sends that would still succeed and re-sends them (duplicates, no progress).
  const sendMs = KAFKA_SEND_ATTEMPTS * config.BANK_KAFKA_REQUEST_TIMEOUT_MS;
  if (config.BANK_OUTBOX_PUBLISH_TIMEOUT_MS < sendMs) {
    ctx.addIssue({
      code: 'custom',
      path: ['BANK_OUTBOX_PUBLISH_TIMEOUT_MS'],
      message: `must be at least ${KAFKA_SEND_ATTEMPTS} x BANK_KAFKA_REQUEST_TIMEOUT_MS (${sendMs} ms), the longest one send can take`,
    });
  }
  if (config.BANK_OUTBOX_RETRY_DELAY_MS_MIN > config.BANK_OUTBOX_RETRY_DELAY_MS_MAX) {
    ctx.addIssue({ code: 'custom', path: ['BANK_OUTBOX_RETRY_DELAY_MS_MIN'], message: 'must not exceed BANK_OUTBOX_RETRY_DELAY_MS_MAX' });
  }
}
