import { Ajv2020, type Options as AjvOptions } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import type { FastifyInstance } from 'fastify';
import { checkWellFormedText } from '../mapping/validation.js';
import type { OperationSpec } from '../openapi/spec.js';

// ajv-formats is CommonJS: under NodeNext the default import is module.exports, whose `default` is the plugin.
const addFormats = addFormatsModule.default;

/** OpenAPI keywords that are not JSON Schema: annotations Ajv must accept and ignore. */
const OPENAPI_ANNOTATIONS = ['example', 'xml', 'externalDocs', 'discriminator'];

function createAjv(options: AjvOptions): Ajv2020 {
  const ajv = new Ajv2020({
    strict: true,
    allowUnionTypes: true, // `type: [string, 'null']` is how 3.1 spells "nullable"
    allErrors: true, // report every bad field at once; bodies are bounded by GATEWAY_BODY_BYTES_MAX
    ...options,
  });
  addFormats(ajv);
  ajv.addVocabulary(OPENAPI_ANNOTATIONS);
  return ajv;
}

/**
 * Two validators, because JSON and URLs differ: a JSON body keeps its types
 * (a JSON number for `amount` is a 400, never silently turned into a string),
 * while path, query and header values are always strings on the wire and are
 * coerced to the declared type (`limit=20` -> 20), with defaults applied.
 * Unknown body fields are errors (the schemas say additionalProperties: false;
 * nothing is removed silently).
 */
export function installOpenApiValidation(app: FastifyInstance): void {
  const bodyAjv = createAjv({ coerceTypes: false, useDefaults: false, removeAdditional: false });
  const parameterAjv = createAjv({ coerceTypes: true, useDefaults: true, removeAdditional: false });
  app.setValidatorCompiler(({ schema, httpPart }) =>
    (httpPart === 'body' ? bodyAjv : parameterAjv).compile(schema as Record<string, unknown>),
  );
  // JSON Schema cannot refuse an unpaired surrogate (a pattern sees it as a character): checked first.
  app.addHook('preValidation', async (request) => {
    if (request.body !== undefined) checkWellFormedText(request.body);
  });
}

/** Route options (method, url, request schemas) of an operation, straight from the OpenAPI document. */
export function operationRoute(operation: OperationSpec): {
  method: string;
  url: string;
  schema: OperationSpec['schema'];
  config: { operationId: string; secured: boolean };
} {
  return {
    method: operation.method,
    url: operation.url,
    schema: operation.schema,
    config: { operationId: operation.operationId, secured: operation.secured },
  };
}
