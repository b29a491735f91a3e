// Fan-out of wallet.operations events into deliveries: each event of an
// account goes to every enabled endpoint subscribed to its type whose owner
// owns the account, and to admin endpoints (every account). Idempotent on
// eventId (db/deliveries.ts storeEvents), so Kafka's redeliveries are harmless.
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import type { EndpointRecord } from '../domain/endpoint.js';
import type { OwnerDirectory } from '../clients/bank.js';
import { storeEvents, type IncomingEvent, type PlannedDelivery } from '../db/deliveries.js';
import { subscribedEndpoints } from '../db/endpoints.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export const EVENT_BYTES_MAX = 64 * 1024;

export type ParsedEvent = { ok: true; event: IncomingEvent } | { ok: false; reason: string };

/** The fields fan-out needs; the body is kept byte for byte (it is what gets signed and sent). */
export function parseEvent(value: Buffer | undefined): ParsedEvent {
  if (!value || value.length === 0) return { ok: false, reason: 'empty' };
  if (value.length > EVENT_BYTES_MAX) return { ok: false, reason: 'too_large' };
  const body = value.toString('utf8');
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    return { ok: false, reason: 'not_json' };
  }
  const { eventId, eventType, accountId } = (json ?? {}) as Record<string, unknown>;
  if (typeof eventId !== 'string' || !UUID.test(eventId)) return { ok: false, reason: 'no_event_id' };
  if (typeof eventType !== 'string' || eventType.length === 0 || eventType.length > 64) return { ok: false, reason: 'no_event_type' };
  if (typeof accountId !== 'string' || !UUID.test(accountId)) return { ok: false, reason: 'no_account_id' };
  return { ok: true, event: { eventId: eventId.toLowerCase(), eventType, accountId: accountId.toLowerCase(), body } };
}

/** Pure: which (endpoint, event) pairs to deliver, in event order. */
export function planDeliveries(events: readonly IncomingEvent[], endpoints: readonly EndpointRecord[], owners: ReadonlyMap<string, string>, newId: () => string = randomUUID): PlannedDelivery[] {
  const planned: PlannedDelivery[] = [];
  for (const event of events) {
    const owner = owners.get(event.accountId);
    for (const endpoint of endpoints) {
      if (!endpoint.enabled || !endpoint.events.includes(event.eventType)) continue;
      if (!endpoint.allAccounts && endpoint.ownerId !== owner) continue;
      planned.push({ id: newId(), endpointId: endpoint.id, eventId: event.eventId });
    }
  }
  return planned;
}

export interface FanoutContext {
  pool: pg.Pool;
  owners: OwnerDirectory;
  retryWindowMs: number;
}

/**
 * Stores one batch's events and deliveries (one transaction). Owners are asked
 * of the bank only for accounts some owner-scoped endpoint could receive.
 * Throws when storage or the bank fails: the caller retries the batch.
 */
export async function fanOut(ctx: FanoutContext, events: readonly IncomingEvent[]): Promise<{ fresh: number; deliveries: number }> {
  if (events.length === 0) return { fresh: 0, deliveries: 0 };
  const types = [...new Set(events.map((event) => event.eventType))];
  const endpoints = await subscribedEndpoints(ctx.pool, types);
  const ownerScopedTypes = new Set(endpoints.filter((endpoint) => !endpoint.allAccounts).flatMap((endpoint) => endpoint.events));
  const accounts = [...new Set(events.filter((event) => ownerScopedTypes.has(event.eventType)).map((event) => event.accountId))];
  const owners = accounts.length > 0 ? await ctx.owners.owners(accounts) : new Map<string, string>();
  return storeEvents(ctx.pool, events, (fresh) => planDeliveries(fresh, endpoints, owners), ctx.retryWindowMs);
}
