// Endpoint registration rules (pure): event types, idempotency key, request hash.
import { createHash } from 'node:crypto';
import type { FieldViolation } from '@wallet/platform';

/** The wallet.operations event types an endpoint may subscribe to (asyncapi.yaml). */
export const EVENT_TYPES = [
  'transfer_in',
  'transfer_out',
  'topup',
  'hold_created',
  'hold_captured',
  'hold_voided',
  'hold_expired',
  'reversal_out',
  'reversal_in',
  'refund',
  'refund_cancelled',
] as const;
export type EventType = (typeof EVENT_TYPES)[number];
const KNOWN: ReadonlySet<string> = new Set(EVENT_TYPES);

export const IDEMPOTENCY_KEY_LENGTH_MAX = 255;

export interface EndpointRecord {
  id: string;
  ownerId: string;
  allAccounts: boolean;
  url: string;
  events: string[];
  enabled: boolean;
  createdAt: Date;
  /** The current signing secret's version. */
  secretVersion: number;
  /** Until when the replaced version still signs; null: only the current one does. */
  previousSecretExpiresAt: Date | null;
}

/** Distinct, sorted event types, or the violations of the list. */
export function checkEvents(events: readonly string[]): { ok: true; events: string[] } | { ok: false; violations: FieldViolation[] } {
  if (events.length === 0) return { ok: false, violations: [{ field: 'events', description: 'at least one event type' }] };
  const violations = events.flatMap((event, index) =>
    KNOWN.has(event) ? [] : [{ field: `events[${index}]`, description: `unknown event type (one of ${EVENT_TYPES.join(', ')})` }],
  );
  if (violations.length > 0) return { ok: false, violations };
  return { ok: true, events: [...new Set(events)].sort() };
}

export function checkIdempotencyKey(key: string): FieldViolation[] {
  const length = [...key].length;
  return length >= 1 && length <= IDEMPOTENCY_KEY_LENGTH_MAX ? [] : [{ field: 'idempotency_key', description: `must be 1-${IDEMPOTENCY_KEY_LENGTH_MAX} characters` }];
}

/** Same key + same hash = replay; same key + another hash = IDEMPOTENCY_KEY_REUSED. */
export function requestHash(url: string, events: readonly string[]): string {
  return createHash('sha256').update(JSON.stringify({ url, events })).digest('hex');
}
