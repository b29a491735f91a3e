// The operators' CRD schemas (CloudNativePG, Strimzi, Altinity), vendored under
// deploy/kubernetes/crd-schemas/ (no registry package ships them), and a JSON
// Schema validator for the custom resources the Helm chart renders, as strict
// as the API server with field validation Strict (kubectl's default): unknown
// fields are errors unless the schema preserves them.
//
// Update: `node scripts/check-deploy/crd-schemas.mjs <crd.yaml>...` writes one
// <group>_<kind>_<version>.json per served version (descriptions dropped).
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { root } from '../lib/paths.mjs';

export const crdSchemasDir = join(root, 'deploy', 'kubernetes', 'crd-schemas');
// ajv 8 is a dependency of the test kit (the root's ajv is eslint's v6).
const requireFromTestkit = createRequire(join(root, 'packages', 'testkit', 'package.json'));

function withoutDescriptions(value) {
  if (Array.isArray(value)) return value.map(withoutDescriptions);
  if (!value || typeof value !== 'object') return value;
  return Object.fromEntries(Object.entries(value).filter(([key]) => key !== 'description').map(([key, v]) => [key, withoutDescriptions(v)]));
}

/** One entry per served version of each CRD in the files: { file, apiVersion, kind, schema }. */
export function extractCrdSchemas(files) {
  const out = [];
  for (const file of files) {
    for (const doc of parseAllDocuments(readFileSync(file, 'utf8')).map((d) => d.toJS()).filter(Boolean)) {
      if (doc.kind !== 'CustomResourceDefinition') continue;
      for (const version of doc.spec.versions.filter((v) => v.served)) {
        const apiVersion = `${doc.spec.group}/${version.name}`;
        out.push({ file: `${doc.spec.group}_${doc.spec.names.kind}_${version.name}.json`, apiVersion, kind: doc.spec.names.kind, schema: withoutDescriptions(version.schema.openAPIV3Schema) });
      }
    }
  }
  return out;
}

/**
 * A CRD's structural schema as plain JSON Schema: int-or-string as either, and
 * `additionalProperties: false` on every object that lists its properties and
 * does not preserve unknown fields (what the API server's pruning and Strict
 * field validation do).
 */
export function strictSchema(schema) {
  if (Array.isArray(schema)) return schema.map(strictSchema);
  if (!schema || typeof schema !== 'object') return schema;
  const out = {};
  for (const [key, value] of Object.entries(schema)) {
    if (key === 'properties' || key === 'patternProperties') {
      out[key] = Object.fromEntries(Object.entries(value).map(([name, sub]) => [name, strictSchema(sub)]));
    } else if (key.startsWith('x-kubernetes-')) {
      continue;
    } else {
      out[key] = strictSchema(value);
    }
  }
  if (schema['x-kubernetes-int-or-string']) {
    delete out.type;
    return { ...out, anyOf: [{ type: 'integer' }, { type: 'string' }] };
  }
  if (schema.properties && schema.additionalProperties === undefined && !schema['x-kubernetes-preserve-unknown-fields']) {
    out.additionalProperties = false;
  }
  return out;
}

/**
 * Validators keyed by "apiVersion/kind" for every vendored schema.
 * @returns {Map<string, (object: unknown) => string[]>} each returns its problems ([] = valid)
 */
export function loadCrdValidators(dir = crdSchemasDir) {
  const Ajv = requireFromTestkit('ajv').default;
  const ajv = new Ajv({ allErrors: true, strict: false, validateFormats: false });
  const validators = new Map();
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.json'))) {
    const { apiVersion, kind, schema } = JSON.parse(readFileSync(join(dir, file), 'utf8'));
    const validate = ajv.compile(strictSchema(schema));
    validators.set(`${apiVersion}/${kind}`, (object) => {
      if (validate(object)) return [];
      return validate.errors.map((e) => `${e.instancePath || '/'} ${e.message}${e.params?.additionalProperty ? `: ${e.params.additionalProperty}` : ''}`);
    });
  }
  return validators;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  for (const entry of extractCrdSchemas(process.argv.slice(2))) {
    const { file, ...content } = entry;
    writeFileSync(join(crdSchemasDir, file), `${JSON.stringify(content)}\n`);
    console.log(`${basename(file)} (${entry.apiVersion} ${entry.kind})`);
  }
}
