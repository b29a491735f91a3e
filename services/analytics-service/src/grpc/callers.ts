// Who may call which RPC of the analytics-service (ADR 0009): the caller is
// the service named by its client certificate. Only the gateway reads
// analytics; exhaustive over the generated server interface, so a new RPC
// without a row does not compile.
import type { AnalyticsServiceServer } from '@wallet/contracts/analytics';
import type { CallerTable } from '@wallet/platform/tls';

const GATEWAY = ['api-gateway'] as const;

export const ANALYTICS_CALLERS: CallerTable<AnalyticsServiceServer> = {
  getOperations: GATEWAY,
  getAccountSummary: GATEWAY,
};
