import { type z } from 'zod';
import { ConfigError, env } from '../config.js';
import { TLS_RELOAD_INTERVAL_MS_DEFAULT, type ReloadingCertificateProviderOptions } from './certificate-provider.js';

/**
 * The TLS variables every gRPC service reads (shared, unprefixed: one identity
 * per process). Spread into the service's config schema.
 */
export const tlsConfigShape = {
  TLS_CA_FILE: env.optionalString(),
  TLS_CERT_FILE: env.optionalString(),
  TLS_KEY_FILE: env.optionalString(),
  TLS_RELOAD_INTERVAL_MS: env.int(TLS_RELOAD_INTERVAL_MS_DEFAULT, 0, 24 * 60 * 60 * 1000),
  /** Bench-only: gRPC in plaintext without caller authentication, to state the cost of mTLS. */
  WALLET_TEST_GRPC_PLAINTEXT: env.testFlag(),
};

export type TlsConfig = z.infer<z.ZodObject<typeof tlsConfigShape>>;

const FILE_VARIABLES = ['TLS_CA_FILE', 'TLS_CERT_FILE', 'TLS_KEY_FILE'] as const;

/**
 * The provider options from validated config, or null when no TLS variable is
 * set and TLS is not required. Throws a ConfigError naming the variables when
 * only some are set, or none while `required` (call it inside the service's
 * loadConfig so runService exits 2 with the message).
 */
export function tlsOptionsFromConfig(config: Omit<TlsConfig, 'WALLET_TEST_GRPC_PLAINTEXT'> & { WALLET_TEST_GRPC_PLAINTEXT?: boolean }, { required }: { required: boolean }): ReloadingCertificateProviderOptions | null {
  const missing = FILE_VARIABLES.filter((name) => config[name] === undefined);
  if (missing.length === FILE_VARIABLES.length && !required) return null;
  if (missing.length > 0) {
    const why = missing.length === FILE_VARIABLES.length ? 'mutual TLS is required' : 'set all three TLS file variables or none';
    throw new ConfigError(missing.map((name) => `${name}: missing (${why})`));
  }
  return {
    caFile: config.TLS_CA_FILE!,
    certFile: config.TLS_CERT_FILE!,
    keyFile: config.TLS_KEY_FILE!,
    reloadIntervalMs: config.TLS_RELOAD_INTERVAL_MS,
  };
}
