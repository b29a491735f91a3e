import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';

// Loads openapi.yaml (OpenAPI 3.1) and derives, per operation, the JSON
// Schemas Fastify validates requests with: params, querystring, headers and
// body. The document is the only source of request schemas; nothing here is
// copied by hand. OpenAPI 3.1 schemas are JSON Schema 2020-12, so after local
// $refs are inlined they go to Ajv (2020 dialect) unchanged.

export type JsonSchema = Record<string, unknown>;

export const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;
type HttpMethod = (typeof HTTP_METHODS)[number];

export interface OperationSpec {
  operationId: string;
  /** Upper-case HTTP method. */
  method: string;
  /** OpenAPI path template, e.g. /accounts/{accountId}/transfers. */
  pathTemplate: string;
  /** Fastify route URL, e.g. /accounts/:accountId/transfers. */
  url: string;
  schema: {
    params?: JsonSchema;
    querystring?: JsonSchema;
    headers?: JsonSchema;
    body?: JsonSchema;
  };
  /** Media types the request body may have (empty without a body). */
  bodyContentTypes: string[];
  /** Response status codes the operation declares. */
  responseStatuses: ReadonlySet<number>;
  /** The operation declares a security requirement (no anonymous alternative): a bearer token is required. */
  secured: boolean;
}

export interface OpenApiSpec {
  /** The document as written (YAML text), served at /openapi.yaml. */
  text: string;
  /** The parsed document, $refs untouched (for Swagger UI). */
  raw: JsonSchema;
  /** The parsed document with every local $ref inlined. */
  document: JsonSchema;
  operations: ReadonlyMap<string, OperationSpec>;
  operation(operationId: string): OperationSpec;
}

export class OpenApiSpecError extends Error {
  override name = 'OpenApiSpecError';
}

/** Maximum $ref nesting; the contract has no recursive schemas, so deeper means a cycle. */
const MAX_REF_DEPTH = 64;

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Follows a local JSON pointer ("#/components/schemas/Money") inside document. */
export function resolvePointer(document: unknown, ref: string): unknown {
  if (!ref.startsWith('#')) throw new OpenApiSpecError(`only local $refs are supported, got "${ref}"`);
  const tokens = ref
    .slice(1)
    .split('/')
    .slice(1)
    .map((token) => decodeURIComponent(token).replace(/~1/g, '/').replace(/~0/g, '~'));
  let node: unknown = document;
  for (const token of tokens) {
    if (!isObject(node) && !Array.isArray(node)) throw new OpenApiSpecError(`$ref "${ref}" does not resolve`);
    node = (node as Record<string, unknown>)[token];
    if (node === undefined) throw new OpenApiSpecError(`$ref "${ref}" does not resolve`);
  }
  return node;
}

/**
 * Returns a copy of document in which every local {"$ref": "#/..."} is
 * replaced by (a copy of) its target. Keywords beside a $ref (allowed in 3.1,
 * e.g. a description) are kept: the target is merged under them.
 */
export function inlineLocalRefs<T>(document: T): T {
  const visit = (node: unknown, chain: string[]): unknown => {
    if (Array.isArray(node)) return node.map((item) => visit(item, chain));
    if (!isObject(node)) return node;
    const ref = node.$ref;
    if (typeof ref === 'string') {
      if (chain.includes(ref)) throw new OpenApiSpecError(`recursive $ref "${ref}" is not supported`);
      if (chain.length >= MAX_REF_DEPTH) throw new OpenApiSpecError(`$ref nesting deeper than ${MAX_REF_DEPTH}`);
      const target = visit(resolvePointer(document, ref), [...chain, ref]);
      const { $ref: _ref, ...siblings } = node;
      if (Object.keys(siblings).length === 0) return target;
      if (!isObject(target)) throw new OpenApiSpecError(`$ref "${ref}" with siblings must point to an object`);
      return { ...target, ...(visit(siblings, chain) as Record<string, unknown>) };
    }
    const copy: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(node)) copy[key] = visit(value, chain);
    return copy;
  };
  return visit(document, []) as T;
}

interface ParameterObject {
  name: string;
  in: 'path' | 'query' | 'header' | 'cookie';
  required?: boolean;
  schema?: JsonSchema;
  description?: string;
}

function objectSchema(properties: Record<string, JsonSchema>, required: string[]): JsonSchema {
  const schema: JsonSchema = { type: 'object', properties };
  if (required.length > 0) schema.required = required;
  return schema;
}

/** Converts /accounts/{accountId}/transfers to Fastify's /accounts/:accountId/transfers. */
export function toFastifyUrl(pathTemplate: string): string {
  return pathTemplate.replace(/\{([^}/]+)\}/g, ':$1');
}

function buildOperation(
  pathTemplate: string,
  method: HttpMethod,
  operation: Record<string, unknown>,
  pathParameters: ParameterObject[],
  documentSecurity: unknown,
): OperationSpec {
  const operationId = operation.operationId;
  if (typeof operationId !== 'string') {
    throw new OpenApiSpecError(`${method.toUpperCase()} ${pathTemplate} has no operationId`);
  }
  // Operation-level parameters override path-level ones with the same name and location.
  const parameters = new Map<string, ParameterObject>();
  for (const p of [...pathParameters, ...((operation.parameters as ParameterObject[] | undefined) ?? [])]) {
    parameters.set(`${p.in}:${p.name}`, p);
  }
  const groups = { path: {}, query: {}, header: {} } as Record<'path' | 'query' | 'header', Record<string, JsonSchema>>;
  const required = { path: [], query: [], header: [] } as Record<'path' | 'query' | 'header', string[]>;
  for (const p of parameters.values()) {
    if (p.in === 'cookie') throw new OpenApiSpecError(`${operationId}: cookie parameters are not supported`);
    if (!p.schema) throw new OpenApiSpecError(`${operationId}: parameter ${p.name} needs a schema`);
    // HTTP header names are case-insensitive and Node lower-cases them.
    const name = p.in === 'header' ? p.name.toLowerCase() : p.name;
    groups[p.in][name] = p.schema;
    if (p.required || p.in === 'path') required[p.in].push(name);
  }

  const schema: OperationSpec['schema'] = {};
  if (Object.keys(groups.path).length > 0) schema.params = objectSchema(groups.path, required.path);
  if (Object.keys(groups.query).length > 0) schema.querystring = objectSchema(groups.query, required.query);
  if (Object.keys(groups.header).length > 0) schema.headers = objectSchema(groups.header, required.header);

  let bodyContentTypes: string[] = [];
  const requestBody = operation.requestBody;
  if (isObject(requestBody) && isObject(requestBody.content)) {
    bodyContentTypes = Object.keys(requestBody.content);
    // JSON bodies, or form bodies (the OAuth token endpoint, RFC 6749): both are objects of named fields.
    const json = requestBody.content['application/json'] ?? requestBody.content['application/x-www-form-urlencoded'];
    if (!isObject(json) || !isObject(json.schema)) {
      throw new OpenApiSpecError(`${operationId}: only application/json or form request bodies are supported`);
    }
    // A required body must be present: validating `undefined` against an
    // object schema fails, which is the 400 we want.
    schema.body = requestBody.required === true ? json.schema : { anyOf: [{ type: 'null' }, json.schema] };
  }

  const responseStatuses = new Set<number>();
  for (const status of Object.keys((operation.responses as Record<string, unknown> | undefined) ?? {})) {
    if (/^[1-5][0-9]{2}$/.test(status)) responseStatuses.add(Number(status));
  }

  // OpenAPI: an operation's `security` overrides the document's; an empty requirement ({}) means anonymous is allowed.
  const security = operation.security ?? documentSecurity;
  const secured = Array.isArray(security) && security.length > 0 && security.every((r) => isObject(r) && Object.keys(r).length > 0);

  return {
    operationId,
    method: method.toUpperCase(),
    pathTemplate,
    url: toFastifyUrl(pathTemplate),
    schema,
    bodyContentTypes,
    responseStatuses,
    secured,
  };
}

/** Parses an OpenAPI 3.1 document (YAML or JSON text). */
export function parseOpenApiSpec(text: string): OpenApiSpec {
  const raw = parseYaml(text) as unknown;
  if (!isObject(raw) || typeof raw.openapi !== 'string' || !raw.openapi.startsWith('3.1')) {
    throw new OpenApiSpecError('expected an OpenAPI 3.1 document');
  }
  const document = inlineLocalRefs(raw);
  const operations = new Map<string, OperationSpec>();
  for (const [pathTemplate, pathItem] of Object.entries((document.paths as Record<string, unknown>) ?? {})) {
    if (!isObject(pathItem)) continue;
    const pathParameters = (pathItem.parameters as ParameterObject[] | undefined) ?? [];
    for (const method of HTTP_METHODS) {
      const operation = pathItem[method];
      if (!isObject(operation)) continue;
      const spec = buildOperation(pathTemplate, method, operation, pathParameters, document.security);
      if (operations.has(spec.operationId)) throw new OpenApiSpecError(`duplicate operationId ${spec.operationId}`);
      operations.set(spec.operationId, spec);
    }
  }
  return {
    text,
    raw,
    document,
    operations,
    operation(operationId) {
      const found = operations.get(operationId);
      if (!found) throw new OpenApiSpecError(`operation ${operationId} is not in the OpenAPI document`);
      return found;
    },
  };
}

export function loadOpenApiSpec(path: string): OpenApiSpec {
  return parseOpenApiSpec(readFileSync(path, 'utf8'));
}
