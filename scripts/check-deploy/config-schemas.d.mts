export interface ServiceConfig {
  exports: string[];
  schemas: unknown[];
  keys: string[];
  required: string[];
  defaults: Record<string, unknown>;
  /** The service's secrets (exported SecretSpecs tables, merged): X may come from X_FILE. */
  secrets: Record<string, { devDefault?: string; knownDevValues?: readonly string[]; required?: boolean }>;
  /** The secrets for one environment (some services' specs depend on it). */
  secretsFor(environment: Record<string, string | undefined>): Record<string, { devDefault?: string; knownDevValues?: readonly string[]; required?: boolean }>;
  /** X_FILE of every secret (also in keys). */
  secretFileKeys: string[];
}
export function loadServiceConfig(serviceDir: string): Promise<ServiceConfig>;
export function validateEnvironment(config: ServiceConfig, environment: Record<string, string>): string[];
