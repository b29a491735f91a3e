import { readFileSync } from 'node:fs';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { parse as parseYaml } from 'yaml';

// Contract tests for REST responses: checks an HTTP response against
// openapi.yaml (OpenAPI 3.1): the status is declared for the operation, the
// content type is one the response declares, declared headers hold valid
// values, and the body matches the schema. $refs are resolved by Ajv against
// the document itself, independently of how the gateway loads it.

const addFormats = addFormatsModule.default;

/** Any response shape with these fields: light-my-request (fastify.inject), or built from fetch. */
export interface HttpResponseLike {
  method: string;
  /** Request path, with or without a query string. */
  url: string;
  statusCode: number;
  headers: Record<string, string | string[] | number | undefined>;
  /** Raw body text. */
  body: string;
}

export interface MatchedOperation {
  operationId: string;
  method: string;
  pathTemplate: string;
}

export interface OpenApiResponseValidator {
  /** The operation a request hits, if the document declares one. */
  findOperation(method: string, url: string): MatchedOperation | undefined;
  /** Every way the response breaks the contract; empty when it conforms. */
  validate(response: HttpResponseLike): string[];
  /** Throws an Error listing every violation. */
  assertValid(response: HttpResponseLike): void;
  /** Validates a value against components/schemas/<name> (e.g. a Problem from an undeclared route). */
  validateSchema(name: string, value: unknown): string[];
}

type Json = Record<string, unknown>;
const DOC_ID = 'https://wallet.invalid/openapi.json';
const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

function pointerToken(value: string): string {
  return value.replace(/~/g, '~0').replace(/\//g, '~1');
}

function mediaType(header: string | string[] | number | undefined): string | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  return value === undefined ? undefined : String(value).split(';')[0]!.trim().toLowerCase();
}

function headerValue(headers: HttpResponseLike['headers'], name: string): string | undefined {
  const value = headers[name.toLowerCase()];
  if (value === undefined) return undefined;
  return Array.isArray(value) ? value.join(', ') : String(value);
}

function pathTemplateRegExp(template: string): RegExp {
  const source = template
    .split('/')
    .map((segment) => (/^\{[^}]+\}$/.test(segment) ? '[^/]+' : segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
    .join('/');
  return new RegExp(`^${source}$`);
}

export function createOpenApiResponseValidator(specPath: string): OpenApiResponseValidator {
  const document = parseYaml(readFileSync(specPath, 'utf8')) as Json;
  // strict: false because the document is not a schema (openapi, paths, ...);
  // Ajv only compiles the subschemas we point at and resolves their $refs in it.
  const ajv = new Ajv2020({ strict: false, allErrors: true, allowUnionTypes: true });
  addFormats(ajv);
  ajv.addSchema({ ...document, $id: DOC_ID });

  const compiled = new Map<string, ValidateFunction>();
  const validatorAt = (pointer: string): ValidateFunction => {
    let validate = compiled.get(pointer);
    if (!validate) {
      // Tokens are percent-encoded: path templates hold braces, media types slashes (already ~1).
      validate = ajv.compile({ $ref: `${DOC_ID}#${pointer.split('/').map(encodeURIComponent).join('/')}` });
      compiled.set(pointer, validate);
    }
    return validate;
  };
  const errorsOf = (validate: ValidateFunction, value: unknown): string[] =>
    validate(value) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath || '(root)'} ${e.message ?? 'is invalid'} ${JSON.stringify(e.params)}`);

  const paths = (document.paths ?? {}) as Record<string, Json>;
  // Literal segments win over templated ones, as in OpenAPI path matching.
  const templates = Object.keys(paths)
    .map((template) => ({ template, pattern: pathTemplateRegExp(template), params: (template.match(/\{/g) ?? []).length }))
    .sort((a, b) => a.params - b.params);

  /** Follows $refs from the node at pointer; returns the target and its own pointer. */
  const resolve = (pointer: string): { node: Json; pointer: string } => {
    const at = (p: string): Json =>
      p
        .split('/')
        .slice(1)
        .map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~'))
        .reduce<unknown>((acc, token) => (acc as Json | undefined)?.[token], document) as Json;
    let current = { node: at(pointer), pointer };
    for (let depth = 0; typeof current.node?.$ref === 'string' && depth < 32; depth += 1) {
      const target = (current.node.$ref as string).slice(1);
      current = { node: at(target), pointer: target };
    }
    return current;
  };

  const findOperation = (method: string, url: string): MatchedOperation | undefined => {
    const path = url.split('?')[0]!;
    const lower = method.toLowerCase();
    for (const { template, pattern } of templates) {
      if (!pattern.test(path)) continue;
      const operation = paths[template]![lower] as Json | undefined;
      if (operation && METHODS.includes(lower)) {
        return { operationId: String(operation.operationId), method: lower, pathTemplate: template };
      }
    }
    return undefined;
  };

  const validate = (response: HttpResponseLike): string[] => {
    const where = `${response.method} ${response.url} -> ${response.statusCode}`;
    const operation = findOperation(response.method, response.url);
    if (!operation) return [`${where}: no operation for ${response.method} ${response.url.split('?')[0]} in openapi.yaml`];
    const responses = (paths[operation.pathTemplate]![operation.method] as Json).responses as Json;
    const status = String(response.statusCode);
    const key = status in responses ? status : `${status[0]}XX` in responses ? `${status[0]}XX` : 'default' in responses ? 'default' : undefined;
    if (!key) return [`${where}: status ${status} is not declared for ${operation.operationId} (declared: ${Object.keys(responses).join(', ')})`];

    const problems: string[] = [];
    const declared = resolve(`/paths/${pointerToken(operation.pathTemplate)}/${operation.method}/responses/${key}`);

    for (const name of Object.keys((declared.node.headers ?? {}) as Json)) {
      const headerSpec = resolve(`${declared.pointer}/headers/${pointerToken(name)}`);
      const value = headerValue(response.headers, name);
      if (value === undefined) {
        if (headerSpec.node.required === true) problems.push(`${where}: required header ${name} missing`);
        continue;
      }
      const schema = headerSpec.node.schema as Json | undefined;
      if (!schema) continue;
      const schemaAt = resolve(`${headerSpec.pointer}/schema`);
      // Header values are strings on the wire; an integer header is checked as a number.
      const typed = schemaAt.node.type === 'integer' && /^-?\d+$/.test(value) ? Number(value) : value;
      for (const e of errorsOf(validatorAt(schemaAt.pointer), typed)) problems.push(`${where}: header ${name} ${e}`);
    }

    const content = declared.node.content as Json | undefined;
    if (!content) {
      if (response.body.length > 0) problems.push(`${where}: declares no body but one was sent`);
      return problems;
    }
    const type = mediaType(response.headers['content-type']);
    if (!type || !(type in content)) {
      problems.push(`${where}: content-type ${type ?? '(none)'} not declared (declared: ${Object.keys(content).join(', ')})`);
      return problems;
    }
    const media = content[type] as Json;
    if (!media.schema) return problems;
    let body: unknown = response.body;
    if (type === 'application/json' || type.endsWith('+json')) {
      try {
        body = JSON.parse(response.body);
      } catch {
        problems.push(`${where}: body is not JSON`);
        return problems;
      }
    }
    for (const e of errorsOf(validatorAt(`${declared.pointer}/content/${pointerToken(type)}/schema`), body)) problems.push(`${where}: body ${e}`);
    return problems;
  };

  return {
    findOperation,
    validate,
    assertValid(response) {
      const problems = validate(response);
      if (problems.length > 0) throw new Error(`response breaks openapi.yaml:\n  ${problems.join('\n  ')}\nbody: ${response.body.slice(0, 2000)}`);
    },
    validateSchema(name, value) {
      return errorsOf(validatorAt(`/components/schemas/${pointerToken(name)}`), value);
    },
  };
}
