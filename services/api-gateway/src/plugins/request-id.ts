import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';

export const REQUEST_ID_HEADER = 'x-request-id';

/**
 * A caller's id is kept only when it is short and made of URL-safe
 * characters, so it cannot forge log lines or carry payloads downstream;
 * anything else is replaced by a fresh UUID.
 */
const ACCEPTED_REQUEST_ID = /^[A-Za-z0-9._~:@/+=-]{1,128}$/;

export function requestIdFrom(header: string | string[] | undefined): string {
  const value = Array.isArray(header) ? header[0] : header;
  return value !== undefined && ACCEPTED_REQUEST_ID.test(value) ? value : randomUUID();
}

/** Echoes the request id on every response (set first, so errors and 404s carry it too). */
export function installRequestIdEcho(app: FastifyInstance): void {
  app.addHook('onRequest', async (request, reply) => {
    reply.header(REQUEST_ID_HEADER, request.id);
  });
}
