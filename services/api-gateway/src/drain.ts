import { setTimeout as delay } from 'node:timers/promises';
import type { FastifyInstance } from 'fastify';
import type { Logger } from '@wallet/platform';

/**
 * Whether the gateway is leaving the load balancer's rotation. Once draining,
 * /readyz answers 503 at once (no dependency probed) while every other request
 * is still served normally; HTTP/1.1 answers then carry `Connection: close`
 * so keep-alive clients (the load balancer) reconnect to another replica.
 */
export interface DrainState {
  readonly draining: boolean;
  begin(): void;
}

export function createDrainState(): DrainState {
  let draining = false;
  return {
    get draining() {
      return draining;
    },
    begin() {
      draining = true;
    },
  };
}

/** Adds `Connection: close` to HTTP/1.1 answers while draining. */
export function installDrainConnectionClose(app: FastifyInstance, drain: DrainState): void {
  app.addHook('onSend', async (request, reply) => {
    if (drain.draining && request.raw.httpVersionMajor === 1) reply.header('connection', 'close');
  });
}

export interface DrainAndCloseOptions {
  /** How long to keep serving after /readyz turned 503 (the load balancer's health-check period and fall count). */
  drainMs: number;
  /** Bound on finishing in-flight requests after the listener closed; then remaining sockets are cut. */
  closeTimeoutMs: number;
  logger: Logger;
}

/**
 * The shutdown of the public listener (C3): readiness fails at once, requests
 * keep being served for drainMs so the load balancer takes this replica out
 * without a refused request, then the listener stops accepting, idle
 * keep-alive connections close (forceCloseConnections: 'idle') and in-flight
 * requests finish, within closeTimeoutMs.
 */
export async function drainAndClose(app: FastifyInstance, drain: DrainState, options: DrainAndCloseOptions): Promise<void> {
  drain.begin();
  options.logger.info({ drainMs: options.drainMs }, 'draining: readiness reports 503, still serving');
  if (options.drainMs > 0) await delay(options.drainMs);
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), options.closeTimeoutMs);
  });
  const outcome = await Promise.race([app.close().then(() => 'closed' as const), timedOut]);
  clearTimeout(timer);
  if (outcome === 'timeout') {
    options.logger.warn({ closeTimeoutMs: options.closeTimeoutMs }, 'in-flight requests outlived the close bound; closing their connections');
    const server = app.server as { closeAllConnections?: () => void };
    server.closeAllConnections?.();
  }
}
