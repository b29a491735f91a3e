// Reads a service's configuration schema from its build (dist/config.js):
// every exported zod object whose keys are environment variable names.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const ENV_NAME = /^[A-Z][A-Z0-9_]*$/;

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
 * @returns {Promise<{ exports: string[], schemas: any[], keys: string[], required: string[], defaults: Record<string, unknown> }>}
 */
export async function loadServiceConfig(serviceDir) {
  const file = join(serviceDir, 'dist', 'config.js');
  if (!existsSync(file)) throw new Error(`${file} is missing: build the service first (npm run build)`);
  const module = await import(pathToFileURL(file).href);
  const found = Object.entries(module).filter(
    ([, value]) => isZodObject(value) && Object.keys(value.shape).length > 0 && Object.keys(value.shape).every((k) => ENV_NAME.test(k)),
  );
  if (found.length === 0) throw new Error(`${file} exports no zod object of environment variables`);
  const keys = [...new Set(found.flatMap(([, schema]) => Object.keys(schema.shape)))].sort();
  // A variable is required when some exported schema rejects it being absent.
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
  return { exports: found.map(([name]) => name), schemas: found.map(([, s]) => s), keys, required, defaults };
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
