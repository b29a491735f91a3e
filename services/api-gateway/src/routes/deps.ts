import type { GatewayClients } from '../clients/types.js';
import type { GatewayConfig } from '../config.js';
import type { OpenApiSpec } from '../openapi/spec.js';

/** What every route module is given. */
export interface RouteDeps {
  config: GatewayConfig;
  clients: GatewayClients;
  spec: OpenApiSpec;
}
