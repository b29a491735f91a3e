import { z } from 'zod';
import { parseGrpcTarget } from './grpc/target.js';

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  ${problems.join('\n  ')}`);
    this.name = 'ConfigError';
  }
}

/** Prefix of every test-only fault hook (crash points, artificial holds). */
export const TEST_HOOK_PREFIX = 'WALLET_TEST_';

/**
 * One problem per test-only hook that is set while NODE_ENV=production: a
 * hook that kills or stalls the process must never be switched on in a real
 * deployment, even by a stray variable, so the service refuses to start.
 */
export function testHookProblems(env: NodeJS.ProcessEnv = process.env): string[] {
  if (env.NODE_ENV !== 'production') return [];
  return Object.keys(env)
    .filter((key) => key.startsWith(TEST_HOOK_PREFIX) && env[key] !== undefined && env[key] !== '')
    .sort()
    .map((key) => `${key}: test-only hook, refused when NODE_ENV=production (unset it)`);
}

/**
 * Validates environment variables once, at start. Every key of the schema is
 * an environment variable name, so an error names the variable to fix. Any
 * WALLET_TEST_* variable set under NODE_ENV=production is an error too.
 */
export function loadConfig<S extends z.ZodObject>(
  schema: S,
  env: NodeJS.ProcessEnv = process.env,
): z.infer<S> {
  const input: Record<string, string> = {};
  for (const key of Object.keys(schema.shape)) {
    const value = env[key];
    // An empty variable means "use the default", as in most twelve-factor tools.
    if (value !== undefined && value !== '') input[key] = value;
  }
  const result = schema.safeParse(input);
  const problems = result.success
    ? []
    : result.error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`);
  problems.push(...testHookProblems(env));
  if (problems.length > 0 || !result.success) throw new ConfigError(problems);
  return result.data;
}

/** Reusable field builders (env values are strings). */
export const env = {
  port: (fallback: number) => z.coerce.number().int().min(0).max(65535).default(fallback),
  int: (fallback: number, min = 0, max = Number.MAX_SAFE_INTEGER) =>
    z.coerce.number().int().min(min).max(max).default(fallback),
  string: (fallback: string) => z.string().min(1).default(fallback),
  optionalString: () => z.string().min(1).optional(),
  bool: (fallback: boolean) =>
    z
      .enum(['true', 'false', '1', '0'])
      .default(fallback ? 'true' : 'false')
      .transform((v) => v === 'true' || v === '1'),
  logLevel: () => z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  host: (fallback: string) => z.string().min(1).default(fallback),
  /**
   * A gRPC address setting: host:port, a comma list of replicas, or dns:///name:port;
   * the value is the grpc-js target (parseGrpcTarget), a bad one is a config error.
   */
  grpcTarget: (fallback: string) =>
    z
      .string()
      .default(fallback)
      .transform((value, ctx) => {
        try {
          return parseGrpcTarget(value);
        } catch (error) {
          ctx.addIssue({ code: 'custom', message: (error as Error).message });
          return z.NEVER;
        }
      }),
  /**
   * A test-only fault hook (name it WALLET_TEST_*): off unless set, one of the
   * given values; loadConfig refuses it under NODE_ENV=production.
   */
  testHook: <const V extends readonly [string, ...string[]]>(values: V) => z.enum(values).optional(),
  /** A boolean test-only hook (WALLET_TEST_*), false unless set. */
  testFlag: () =>
    z
      .enum(['true', 'false', '1', '0'])
      .default('false')
      .transform((v) => v === 'true' || v === '1'),
};

/** Names of the variables a schema reads; used by the compose consistency check. */
export function configKeys(schema: z.ZodObject): string[] {
  return Object.keys(schema.shape);
}
