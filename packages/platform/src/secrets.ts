import { readFileSync, statSync } from 'node:fs';
import type { z } from 'zod';
import { ConfigError, loadConfig } from './config.js';

// The *_FILE convention (Docker and Kubernetes secrets): a secret X may be
// given as the path of a file in X_FILE, whose trimmed content is the value.
// In production (NODE_ENV=production) every secret must come from a file: one
// given inline in the environment (visible in `docker inspect`, /proc, crash
// dumps), a missing one, or a known development default refuses to start.
// Messages name the variable, never the value.

/** Suffix of the variable that holds the path of a secret's file. */
export const SECRET_FILE_SUFFIX = '_FILE';
/** Bound on a secret file: a key or password, never a multi-megabyte file read by mistake. */
export const SECRET_FILE_BYTES_MAX = 64 * 1024;

export interface SecretSpec {
  /** Value used outside production when neither X nor X_FILE is set; refused in production. */
  devDefault?: string;
  /** Other values refused in production (published defaults, former dev values). */
  knownDevValues?: readonly string[];
  /** When false, an unset secret stays unset (the feature it enables is off). Default true. */
  required?: boolean;
}

export type SecretSpecs = Readonly<Record<string, SecretSpec>>;

export interface ResolvedSecrets {
  /** The environment with every secret's value in place (from X, X_FILE or its dev default). */
  env: NodeJS.ProcessEnv;
  /** One line per refused secret, each starting with the variable's name (X or X_FILE). */
  problems: string[];
  /** Names (X) of the refused secrets. */
  refused: string[];
}

function isSet(value: string | undefined): value is string {
  return value !== undefined && value !== '';
}

/** Reads X_FILE's content, trimmed; a problem string when it cannot be used. */
function readSecretFile(fileVariable: string, file: string): { value: string } | { problem: string } {
  try {
    const { size } = statSync(file);
    if (size > SECRET_FILE_BYTES_MAX) return { problem: `${fileVariable}: ${file} is larger than ${SECRET_FILE_BYTES_MAX} bytes` };
    const value = readFileSync(file, 'utf8').trim();
    if (value === '') return { problem: `${fileVariable}: ${file} is empty` };
    return { value };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'unreadable';
    return { problem: `${fileVariable}: cannot read ${file} (${code})` };
  }
}

function resolveOne(name: string, spec: SecretSpec, env: NodeJS.ProcessEnv): { value?: string; problem?: string } {
  const production = env.NODE_ENV === 'production';
  const fileVariable = `${name}${SECRET_FILE_SUFFIX}`;
  const inline = env[name];
  const file = env[fileVariable];
  if (isSet(inline) && isSet(file)) return { problem: `${name}: set either ${name} or ${fileVariable}, not both` };
  if (isSet(inline) && production) {
    return { problem: `${name}: a secret given inline in the environment is refused when NODE_ENV=production (put it in a file and set ${fileVariable})` };
  }
  let value: string | undefined = inline;
  if (isSet(file)) {
    const read = readSecretFile(fileVariable, file);
    if ('problem' in read) return { problem: read.problem };
    value = read.value;
  }
  if (!isSet(value)) {
    if (production) {
      return spec.required === false ? {} : { problem: `${name}: missing; set ${fileVariable} to the path of a file holding it (NODE_ENV=production)` };
    }
    if (spec.devDefault !== undefined) return { value: spec.devDefault };
    return spec.required === false ? {} : { problem: `${name}: missing; set ${name} or ${fileVariable}` };
  }
  const devValues = [...(spec.devDefault === undefined ? [] : [spec.devDefault]), ...(spec.knownDevValues ?? [])];
  if (production && devValues.includes(value)) {
    return { problem: `${name}: is a known development default, refused when NODE_ENV=production (generate a new secret)` };
  }
  return { value };
}

/**
 * Resolves every secret named in `specs` from X or X_FILE (see the module
 * comment for the production rules). Returns a copy of `env` with the values
 * in place and the problems found; throws nothing.
 */
export function resolveSecrets(specs: SecretSpecs, env: NodeJS.ProcessEnv = process.env): ResolvedSecrets {
  const resolved: NodeJS.ProcessEnv = { ...env };
  const problems: string[] = [];
  const refused: string[] = [];
  for (const [name, spec] of Object.entries(specs)) {
    const { value, problem } = resolveOne(name, spec, env);
    if (problem !== undefined) {
      problems.push(problem);
      refused.push(name);
    }
    if (value === undefined) delete resolved[name];
    else resolved[name] = value;
  }
  return { env: resolved, problems, refused };
}

/**
 * loadConfig with secrets: resolves `secrets` (each must also be a key of the
 * schema, typically `z.string().min(1)` or `.optional()`) and validates the
 * schema. All problems of both steps are thrown together as one ConfigError,
 * which runService turns into one message and exit code 2.
 */
export function loadConfigWithSecrets<S extends z.ZodObject>(
  schema: S,
  secrets: SecretSpecs,
  env: NodeJS.ProcessEnv = process.env,
): z.infer<S> {
  const missingFromSchema = Object.keys(secrets).filter((name) => !(name in schema.shape));
  if (missingFromSchema.length > 0) throw new Error(`secrets not in the config schema: ${missingFromSchema.join(', ')}`);
  const resolved = resolveSecrets(secrets, env);
  let config: z.infer<S> | undefined;
  const problems = [...resolved.problems];
  try {
    config = loadConfig(schema, resolved.env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    // A secret already reported must not be reported twice (and a schema message could quote its value).
    const reported = new Set(resolved.refused);
    problems.push(...error.problems.filter((problem) => !reported.has(problem.slice(0, problem.indexOf(':')))));
  }
  if (problems.length > 0 || config === undefined) throw new ConfigError(problems);
  return config;
}

/** The X_FILE names of the given secrets (for the compose consistency check, next to configKeys). */
export function secretFileKeys(secrets: SecretSpecs): string[] {
  return Object.keys(secrets).map((name) => `${name}${SECRET_FILE_SUFFIX}`);
}
