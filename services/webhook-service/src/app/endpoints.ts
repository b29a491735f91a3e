// Use cases of the gRPC API: register, list, get, delete endpoints; the
// delivery log and redelivery. Authorization by role and ownership (caller.ts).
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import type { Principal } from '@wallet/platform/auth';
import { classifyDbError } from '@wallet/platform/db';
import { decodeCursor, encodeCursor, type DeliveryRecord } from '../domain/delivery.js';
import { checkEvents, checkIdempotencyKey, requestHash, type EndpointRecord } from '../domain/endpoint.js';
import { invalidArgument, notFound, WebhookError } from '../domain/errors.js';
import { decryptSecret, encryptSecret, generateSecret } from '../domain/secret-box.js';
import { gracePeriodMs, rotationRequestHash } from '../domain/secret-versions.js';
import { disableEndpoint, findEndpoint, insertEndpoint, listEndpoints, rotateSecret } from '../db/endpoints.js';
import { findDelivery, listDeliveries, redeliver } from '../db/deliveries.js';
import { assertMayWrite, isAdmin, isSupport, mayChange, maySee } from './caller.js';
import type { UrlGuard } from './url-guard.js';

export const PAGE_SIZE_DEFAULT = 20;
export const PAGE_SIZE_MAX = 100;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface EndpointContext {
  pool: pg.Pool;
  guard: UrlGuard;
  secretKey: Buffer;
  endpointsPerOwnerMax: number;
  retryWindowMs: number;
  /** How long a replaced secret keeps signing when the rotation names no grace period. */
  secretRotationGraceMs: number;
}

/** Storage failures become STORAGE_UNAVAILABLE (retry); domain errors pass through. */
async function storage<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    if (error instanceof WebhookError) throw error;
    if (classifyDbError(error) !== undefined) throw new WebhookError('STORAGE_UNAVAILABLE', 'webhook storage unavailable; retry');
    throw error;
  }
}

function checkId(field: string, value: string): string {
  if (!UUID.test(value)) throw invalidArgument([{ field, description: 'must be a UUID' }]);
  return value.toLowerCase();
}

export interface CreateInput {
  url: string;
  events: string[];
  idempotencyKey: string;
}

export async function createEndpoint(ctx: EndpointContext, caller: Principal, input: CreateInput): Promise<{ endpoint: EndpointRecord; secret: string; replayed: boolean }> {
  assertMayWrite(caller, 'register webhook endpoints');
  const keyViolations = checkIdempotencyKey(input.idempotencyKey);
  const events = checkEvents(input.events);
  const violations = [...keyViolations, ...(events.ok ? [] : events.violations)];
  if (violations.length > 0 || !events.ok) throw invalidArgument(violations);
  const url = await ctx.guard.check(input.url);
  const id = randomUUID();
  const secret = generateSecret();
  const hash = requestHash(url.href, events.events);
  const result = await storage(() =>
    insertEndpoint(
      ctx.pool,
      {
        id,
        ownerId: caller.subject,
        allAccounts: isAdmin(caller),
        url: url.href,
        events: events.events,
        secretCiphertext: encryptSecret(ctx.secretKey, id, secret),
        idempotencyKey: input.idempotencyKey,
        requestHash: hash,
      },
      ctx.endpointsPerOwnerMax,
    ),
  );
  if (result.kind === 'too_many') {
    throw new WebhookError('TOO_MANY_ENDPOINTS', `at most ${ctx.endpointsPerOwnerMax} endpoints per owner; delete one first`, [], { limit: String(ctx.endpointsPerOwnerMax) });
  }
  if (result.kind === 'existing') {
    if (result.requestHash !== hash) throw new WebhookError('IDEMPOTENCY_KEY_REUSED', 'this idempotency key was used for another endpoint registration');
    // The answer bound to the key, secret included: a client whose 201 was lost gets it again.
    return { endpoint: result.endpoint, secret: decryptSecret(ctx.secretKey, result.endpoint.id, result.secretCiphertext), replayed: true };
  }
  return { endpoint: result.endpoint, secret, replayed: false };
}

export async function listOwnerEndpoints(ctx: EndpointContext, caller: Principal, ownerId: string): Promise<EndpointRecord[]> {
  const owner = ownerId === '' ? caller.subject : ownerId;
  if (owner.length > 255) throw invalidArgument([{ field: 'owner_id', description: 'at most 255 characters' }]);
  if (owner !== caller.subject && !isAdmin(caller) && !isSupport(caller)) throw new WebhookError('ROLE_FORBIDDEN', 'customers list only their own endpoints');
  return storage(() => listEndpoints(ctx.pool, owner, 1_000));
}

/** The endpoint if the caller may see it; NOT_FOUND otherwise (no enumeration). */
export async function getEndpoint(ctx: EndpointContext, caller: Principal, endpointId: string): Promise<EndpointRecord> {
  const id = checkId('endpoint_id', endpointId);
  const endpoint = await storage(() => findEndpoint(ctx.pool, id));
  if (!endpoint || !maySee(caller, endpoint.ownerId)) throw notFound('endpoint');
  return endpoint;
}

export async function deleteEndpoint(ctx: EndpointContext, caller: Principal, endpointId: string): Promise<EndpointRecord> {
  assertMayWrite(caller, 'delete webhook endpoints');
  const endpoint = await getEndpoint(ctx, caller, endpointId);
  if (!mayChange(caller, endpoint.ownerId)) throw notFound('endpoint');
  const disabled = await storage(() => disableEndpoint(ctx.pool, endpoint.id));
  if (!disabled) throw notFound('endpoint');
  return disabled;
}

export async function deliveryLog(
  ctx: EndpointContext,
  caller: Principal,
  input: { endpointId: string; pageSize: number; pageToken: string },
): Promise<{ deliveries: DeliveryRecord[]; nextPageToken: string }> {
  if (input.pageSize < 0 || input.pageSize > PAGE_SIZE_MAX) throw invalidArgument([{ field: 'page_size', description: `must be 0-${PAGE_SIZE_MAX}` }]);
  const cursor = input.pageToken === '' ? undefined : decodeCursor(input.pageToken);
  if (input.pageToken !== '' && !cursor) throw invalidArgument([{ field: 'page_token', description: 'not a token from a previous page' }]);
  const endpoint = await getEndpoint(ctx, caller, input.endpointId);
  const size = input.pageSize === 0 ? PAGE_SIZE_DEFAULT : input.pageSize;
  const rows = await storage(() => listDeliveries(ctx.pool, endpoint.id, size + 1, cursor));
  const page = rows.slice(0, size);
  const last = page.at(-1);
  const nextPageToken = rows.length > size && last ? encodeCursor({ createdAt: last.createdAt.toISOString(), id: last.id }) : '';
  return { deliveries: page, nextPageToken };
}

export async function redeliverOne(ctx: EndpointContext, caller: Principal, input: { endpointId: string; deliveryId: string }): Promise<DeliveryRecord> {
  assertMayWrite(caller, 'redeliver webhooks');
  const deliveryId = checkId('delivery_id', input.deliveryId);
  const endpoint = await getEndpoint(ctx, caller, input.endpointId);
  if (!mayChange(caller, endpoint.ownerId)) throw notFound('endpoint');
  const queued = await storage(() => redeliver(ctx.pool, endpoint.id, deliveryId, ctx.retryWindowMs));
  if (queued) return queued;
  const exists = await storage(() => findDelivery(ctx.pool, endpoint.id, deliveryId));
  if (!exists) throw notFound('delivery');
  // The delivery exists but its endpoint is deleted: nothing will be sent.
  throw notFound('endpoint');
}

export interface RotateInput {
  endpointId: string;
  idempotencyKey: string;
  gracePeriodSeconds: number | undefined;
}

export interface RotateOutcome {
  endpoint: EndpointRecord;
  version: number;
  secret: string;
  createdAt: Date;
  replayed: boolean;
}

/** A new signing secret for the endpoint (owner or admin); replayable by key. */
export async function rotateEndpointSecret(ctx: EndpointContext, caller: Principal, input: RotateInput): Promise<RotateOutcome> {
  assertMayWrite(caller, 'rotate webhook secrets');
  const grace = gracePeriodMs(input.gracePeriodSeconds, ctx.secretRotationGraceMs);
  const violations = [...checkIdempotencyKey(input.idempotencyKey), ...(grace.ok ? [] : grace.violations)];
  if (violations.length > 0 || !grace.ok) throw invalidArgument(violations);
  const endpoint = await getEndpoint(ctx, caller, input.endpointId);
  if (!mayChange(caller, endpoint.ownerId)) throw notFound('endpoint');
  const secret = generateSecret();
  const hash = rotationRequestHash(input.gracePeriodSeconds);
  const result = await storage(() =>
    rotateSecret(ctx.pool, {
      endpointId: endpoint.id,
      idempotencyKey: input.idempotencyKey,
      requestHash: hash,
      graceMs: grace.ms,
      seal: (version) => encryptSecret(ctx.secretKey, endpoint.id, secret, version),
    }),
  );
  if (result.kind === 'not_found') throw notFound('endpoint');
  const { rotation } = result;
  if (result.kind === 'existing') {
    if (result.requestHash !== hash) throw new WebhookError('IDEMPOTENCY_KEY_REUSED', 'this idempotency key was used for a rotation with another grace period');
    const stored = decryptSecret(ctx.secretKey, endpoint.id, rotation.secretCiphertext, rotation.version);
    return { endpoint: result.endpoint, version: rotation.version, secret: stored, createdAt: rotation.createdAt, replayed: true };
  }
  return { endpoint: result.endpoint, version: rotation.version, secret, createdAt: rotation.createdAt, replayed: false };
}
