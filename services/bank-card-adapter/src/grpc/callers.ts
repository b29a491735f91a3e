// Who may call the card adapter (ADR 0009): the caller's identity is the
// service name in its client certificate, checked per RPC before any handler
// runs. Exhaustive over the generated server: a new RPC without a row does not compile.
import type { BankCardAdapterServiceServer } from '@wallet/contracts/card-adapter';
import type { GrpcServiceRegistration, Logger } from '@wallet/platform';
import type { CallerDenial, CallerTable, GrpcSecurity } from '@wallet/platform/tls';
import type { AdapterMetrics } from '../metrics.js';
import { ERROR_DOMAIN } from './errors.js';

export const CARD_ADAPTER_CALLERS: CallerTable<BankCardAdapterServiceServer> = {
  processCardTopUp: ['api-gateway'],
  getTopUp: ['api-gateway'],
  refundTopUp: ['api-gateway'],
  getTopUpRefund: ['api-gateway'],
};

/** The servicer behind the caller table; each refusal is counted and logged (warn). */
export function authorizedServicer(
  security: GrpcSecurity,
  registration: GrpcServiceRegistration & { implementation: BankCardAdapterServiceServer },
  deps: { logger: Logger; metrics: AdapterMetrics },
): GrpcServiceRegistration {
  const onDenied = (denial: CallerDenial): void => {
    const caller = denial.caller ?? 'unauthenticated';
    deps.metrics.callersDenied.inc({ rpc: denial.rpc, caller });
    deps.logger.warn({ rpc: denial.rpc, caller, reason: denial.reason }, 'gRPC caller refused');
  };
  const implementation = security.authorize(registration.definition, registration.implementation, CARD_ADAPTER_CALLERS, { domain: ERROR_DOMAIN, onDenied });
  return { ...registration, implementation };
}
