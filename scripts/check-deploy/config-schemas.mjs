// Reads a service's configuration schema from its build (dist/config.js):
// every exported zod object whose keys are environment variable names, and
// every exported table of secrets (the SecretSpecs given to
// loadConfigWithSecrets: X may come from X_FILE, and must in production), or
// exported function `...Secrets(env)` returning one (specs that depend on the
// environment, e.g. a secret required only when a feature is on).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { secretFileKeys } from '@wallet/platform';

const ENV_NAME = /^[A-Z][A-Z0-9_]*$/;
const SECRET_SPEC_KEYS = new Set(['devDefault', 'knownDevValues', 'required']);

/** A SecretSpecs table: a plain object of environment names, each a spec ({ devDefault?, knownDevValues?, required? }). */
function isSecretSpecs(value) {
  if (value === null || typeof value !== 'object' || Array.isArray(value) || typeof value.safeParse === 'function') return false;
  const entries = Object.entries(value);
  return (
    entries.length > 0 &&
    entries.every(
      ([key, spec]) => ENV_NAME.test(key) && spec !== null && typeof spec === 'object' && !Array.isArray(spec) && Object.keys(spec).every((k) => SECRET_SPEC_KEYS.has(k)),
    )
  );
}

function isZodObject(value) {
  return (
    value !== null &&
    typeof value === 'object' &&
    typeof value.safeParse === 'function' &&
    value.shape !== null &&
    typeof value.shape === 'object'
  );
}

/**
 * @param {string} serviceDir e.g. <root>/services/bank-service
 * @returns {Promise<{ exports: string[], schemas: any[], keys: string[], required: string[], defaults: Record<string, unknown>,
 *   secrets: Record<string, { devDefault?: string, knownDevValues?: readonly string[], required?: boolean }>,
 *   secretsFor: (env: Record<string, string>) => Record<string, object>, secretFileKeys: string[] }>}
 * keys include every secret's X_FILE.
 */
export async function loadServiceConfig(serviceDir) {
  const file = join(serviceDir, 'dist', 'config.js');
  if (!existsSync(file)) throw new Error(`${file} is missing: build the service first (npm run build)`);
  const module = await import(pathToFileURL(file).href);
  const found = Object.entries(module).filter(
    ([, value]) => isZodObject(value) && Object.keys(value.shape).length > 0 && Object.keys(value.shape).every((k) => ENV_NAME.test(k)),
  );
  if (found.length === 0) throw new Error(`${file} exports no zod object of environment variables`);
  const tables = Object.entries(module).filter(([, value]) => isSecretSpecs(value));
  const factories = Object.entries(module).filter(([name, value]) => typeof value === 'function' && /secrets$/i.test(name) && isSecretSpecs(value({})));
  /** The secrets for one environment, as the service's loadConfig would compute them. */
  const secretsFor = (environment) => Object.assign({}, ...tables.map(([, t]) => t), ...factories.map(([, f]) => f(environment)));
  const secrets = secretsFor({});
  const fileKeys = secretFileKeys(secrets).sort();
  const keys = [...new Set([...found.flatMap(([, schema]) => Object.keys(schema.shape)), ...fileKeys])].sort();
  // A variable is required when some exported schema rejects it being absent.
  // (A required secret X is satisfied by X_FILE: the caller checks both.)
  const required = keys.filter((key) =>
    found.some(([, schema]) => key in schema.shape && !schema.shape[key].safeParse(undefined).success),
  );
  const defaults = {};
  for (const [, schema] of found) {
    for (const [key, field] of Object.entries(schema.shape)) {
      const parsed = field.safeParse(undefined);
      if (parsed.success && parsed.data !== undefined) defaults[key] = parsed.data;
    }
  }
  const exports = [...found, ...tables, ...factories].map(([name]) => name);
  return { exports, schemas: found.map(([, s]) => s), keys, required, defaults, secrets, secretsFor, secretFileKeys: fileKeys };
}

/**
 * Validates an environment against the schemas exactly as loadConfig does
 * (only the schema's keys, empty = unset). Returns the problems, if any.
 */
export function validateEnvironment(config, environment) {
  const problems = [];
  for (const schema of config.schemas) {
    const input = {};
    for (const key of Object.keys(schema.shape)) {
      const value = environment[key];
      if (value !== undefined && value !== '') input[key] = value;
    }
    const result = schema.safeParse(input);
    if (!result.success) {
      for (const issue of result.error.issues) problems.push(`${issue.path.join('.') || '(root)'}: ${issue.message}`);
    }
  }
  return problems;
}
