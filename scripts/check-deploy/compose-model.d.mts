export type ComposeService = Record<string, unknown> & {
  image?: string;
  build?: { context?: string; dockerfile?: string; args?: Record<string, string> };
  environment?: Record<string, string | number | boolean | null> | string[];
  env_file?: unknown;
  healthcheck?: { test?: string[] | string; disable?: boolean };
  depends_on?: Record<string, { condition?: string }> | string[];
  ports?: Array<string | { published?: string | number; host_ip?: string }>;
  networks?: string[] | Record<string, unknown>;
  volumes?: Array<string | { type?: string; source?: string; target?: string; read_only?: boolean }>;
  profiles?: string[];
  restart?: string;
  command?: string[] | string;
  entrypoint?: string[] | string;
  secrets?: Array<string | { source: string; target?: string; uid?: string; gid?: string; mode?: number | string }>;
  logging?: { driver?: string; options?: Record<string, string> };
  deploy?: { resources?: { limits?: { cpus?: string | number; memory?: string } } };
};
export interface ComposeModel {
  services: Record<string, ComposeService>;
  networks?: Record<string, { internal?: boolean } | null>;
  volumes?: Record<string, unknown>;
  secrets?: Record<string, { file?: string; environment?: string; external?: boolean }>;
  [key: string]: unknown;
}
export function parseDotenv(text: string): Record<string, string>;
export function interpolate(text: string, env: Record<string, string | undefined>, where?: string): string;
export function loadCompose(
  root: string,
  options?: { env?: Record<string, string>; file?: string },
): { raw: ComposeModel; model: ComposeModel; env: Record<string, string>; dotenv: Record<string, string>; file: string };
export function serviceEnvironment(service: ComposeService): Record<string, string>;
export function services(model: ComposeModel): Array<[string, ComposeService]>;
export function composeBuilds(model: ComposeModel, root: string): Array<{ name: string; dockerfilePath: string; buildArgs: Record<string, string> }>;
export declare const SECRETS_MOUNT_DIR: string;
export interface SecretMount {
  source: string;
  target: string;
  file: string | undefined;
}
export function secretMounts(model: ComposeModel, service: ComposeService): SecretMount[];
export function mapSecretPaths(
  env: Record<string, string>,
  mounts: SecretMount[],
  options: { root: string; secretsDir: string; secretsFolder?: string },
): Record<string, string>;
