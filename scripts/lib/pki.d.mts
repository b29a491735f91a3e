// Types for scripts/lib/pki.mjs.
export interface PkiCa {
  certPem: string;
  keyPem: string;
  cert: unknown;
  keys: unknown;
}
export interface PemPair {
  certPem: string;
  keyPem: string;
}
export interface ServiceFiles {
  certFile: string;
  keyFile: string;
}
export interface Pki {
  dir: string;
  caFile: string;
  caKeyFile: string;
  services: Record<string, ServiceFiles>;
  /** Infrastructure servers' certificates (server authentication only), when asked for. */
  infra: Record<string, ServiceFiles>;
  /** What this call created or renewed ('ca' and/or service names). */
  created: string[];
}
export declare const SERVICE_NAMES: readonly string[];
export declare const INFRA_NAMES: readonly string[];
export declare const PKI_DIR_DEFAULT: string;
export declare const RENEW_BEFORE_MS: number;
export declare function createCa(options?: { name?: string; notBefore?: Date; notAfter?: Date }): Promise<PkiCa>;
export declare function loadCa(certPem: string, keyPem: string): Promise<PkiCa>;
export declare function issueServiceCertificate(
  ca: PkiCa,
  serviceName: string,
  options?: { loopback?: boolean; clientAuth?: boolean; notBefore?: Date; notAfter?: Date; validityMs?: number },
): Promise<PemPair>;
export declare function writeServiceFiles(dir: string, name: string, pair: PemPair): ServiceFiles;
export declare function ensurePki(options?: { dir?: string; services?: readonly string[]; infra?: readonly string[]; now?: number }): Promise<Pki>;
export declare function tlsEnvFor(pki: Pki, serviceName: string): { TLS_CA_FILE: string; TLS_CERT_FILE: string; TLS_KEY_FILE: string };
