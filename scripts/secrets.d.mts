// Types for scripts/secrets.mjs.
export declare const SECRETS_DIR_DEFAULT: string;
export declare const RANDOM_SECRETS: readonly string[];
export declare const BASE64_KEY_SECRETS: readonly string[];
export declare const INFRA_SERVERS: readonly string[];
export interface GeneratedSecrets {
  dir: string;
  /** Files this call created (relative to dir). */
  created: string[];
  /** Files this call replaced: derived files whose inputs changed, renewed certificates, everything with force. */
  rewritten: string[];
  /** Random secrets that existed and were kept. */
  kept: string[];
  /** Files under tls/ that are not the development PKI's (an operator's own CA): never touched. */
  foreign: string[];
}
export declare function generateSecrets(options?: { dir?: string; force?: boolean; env?: NodeJS.ProcessEnv; now?: number }): Promise<GeneratedSecrets>;
export declare function secretsMissing(dir?: string): string[];
