// Who may call the webhook-service (ADR 0009): the service named by the
// client certificate, per RPC, before any handler runs. Exhaustive: a new RPC
// without a row does not compile.
import type { WebhookServiceServer } from '@wallet/contracts/webhook';
import type { GrpcServiceRegistration, Logger } from '@wallet/platform';
import type { CallerDenial, CallerTable, GrpcSecurity } from '@wallet/platform/tls';
import type { WebhookMetrics } from '../metrics.js';
import { ERROR_DOMAIN } from './errors.js';

export const WEBHOOK_CALLERS: CallerTable<WebhookServiceServer> = {
  createEndpoint: ['api-gateway'],
  listEndpoints: ['api-gateway'],
  getEndpoint: ['api-gateway'],
  deleteEndpoint: ['api-gateway'],
  listDeliveries: ['api-gateway'],
  redeliver: ['api-gateway'],
  rotateSecret: ['api-gateway'],
};

export function authorizedServicer(
  security: GrpcSecurity,
  registration: GrpcServiceRegistration & { implementation: WebhookServiceServer },
  deps: { logger: Logger; metrics: WebhookMetrics },
): GrpcServiceRegistration {
  const onDenied = (denial: CallerDenial): void => {
    const caller = denial.caller ?? 'unauthenticated';
    deps.metrics.callersDenied.inc({ rpc: denial.rpc, caller });
    deps.logger.warn({ rpc: denial.rpc, caller, reason: denial.reason }, 'gRPC caller refused');
  };
  const implementation = security.authorize(registration.definition, registration.implementation, WEBHOOK_CALLERS, { domain: ERROR_DOMAIN, onDenied });
  return { ...registration, implementation };
}
