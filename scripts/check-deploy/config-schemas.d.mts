export interface ServiceConfig {
  exports: string[];
  schemas: unknown[];
  keys: string[];
  required: string[];
  defaults: Record<string, unknown>;
}
export function loadServiceConfig(serviceDir: string): Promise<ServiceConfig>;
export function validateEnvironment(config: ServiceConfig, environment: Record<string, string>): string[];
