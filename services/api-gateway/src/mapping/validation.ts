import { EDGE_PROBLEMS, ProblemError, type FieldError } from './problems.js';

// Turns the schema validator's findings into field-level errors. Pure.

/** The subset of an Ajv error the mapping reads. */
export interface SchemaValidationIssue {
  keyword: string;
  instancePath: string;
  message?: string;
  params: Record<string, unknown>;
}

/** Where the bad value was: Fastify's validation context -> the prefix clients see. */
const PART_PREFIX: Record<string, string> = {
  body: 'body',
  querystring: 'query',
  params: 'path',
  headers: 'header',
};

/** "/card/cvc" -> "card.cvc" (JSON Pointer to a dotted path; array indexes kept). */
function pointerToPath(pointer: string): string {
  return pointer
    .split('/')
    .slice(1)
    .map((token) => token.replace(/~1/g, '/').replace(/~0/g, '~'))
    .join('.');
}

function join(...parts: (string | undefined)[]): string {
  return parts.filter((p) => p !== undefined && p !== '').join('.');
}

/** Keywords whose failure is explained by another error on the same value (anyOf/oneOf wrappers). */
const NOISE_KEYWORDS = new Set(['anyOf', 'oneOf', 'allOf', 'if']);

/**
 * One message per field: when a value breaks several keywords (a UUID has
 * both `format` and `pattern`), the most telling one is kept.
 */
const KEYWORD_RANK = ['required', 'additionalProperties', 'type', 'format', 'enum', 'const', 'pattern'];
const rank = (keyword: string) => {
  const index = KEYWORD_RANK.indexOf(keyword);
  return index === -1 ? KEYWORD_RANK.length : index;
};

export function fieldErrorsFromValidation(context: string, issues: readonly SchemaValidationIssue[]): FieldError[] {
  const prefix = PART_PREFIX[context] ?? context;
  const byField = new Map<string, FieldError & { rank: number }>();
  for (const issue of issues) {
    if (NOISE_KEYWORDS.has(issue.keyword)) continue;
    const base = pointerToPath(issue.instancePath);
    let field = join(prefix, base);
    let message = issue.message ?? 'is invalid';
    if (issue.keyword === 'required' && typeof issue.params.missingProperty === 'string') {
      field = join(prefix, base, issue.params.missingProperty);
      message = 'is required';
    } else if (issue.keyword === 'additionalProperties' && typeof issue.params.additionalProperty === 'string') {
      field = join(prefix, base, issue.params.additionalProperty);
      message = 'is not allowed (unknown field)';
    } else if (issue.keyword === 'type' && prefix === 'body' && base === '') {
      message = 'must be a JSON object';
    } else if (issue.keyword === 'type' && issue.params.type === 'string' && /(^|\.)amount$/.test(base)) {
      // The classic mistake: amounts are strings so that no float ever touches money.
      message = 'must be a string with at most two decimals, e.g. "10.50" (JSON numbers are rejected)';
    } else if (issue.keyword === 'pattern' && /(^|\.)amount$/.test(base)) {
      message = 'must be a decimal string with at most two decimals, e.g. "10.50"';
    }
    const current = byField.get(field);
    if (!current || rank(issue.keyword) < current.rank) byField.set(field, { field, message, rank: rank(issue.keyword) });
  }
  return [...byField.values()].map(({ field, message }) => ({ field, message }));
}

/** A validation failure as the problem the client sees. A bad Idempotency-Key gets its own type. */
export function validationProblem(context: string, issues: readonly SchemaValidationIssue[]): ProblemError {
  const errors = fieldErrorsFromValidation(context, issues);
  const idempotencyKeyOnly = errors.length > 0 && errors.every((e) => e.field === 'header.idempotency-key');
  if (idempotencyKeyOnly) {
    return new ProblemError(
      EDGE_PROBLEMS.idempotencyKey,
      'The Idempotency-Key header is required and must be 1-255 characters.',
      { errors },
    );
  }
  const summary = errors.map((e) => `${e.field} ${e.message}`).join('; ');
  return new ProblemError(EDGE_PROBLEMS.validation, summary || 'The request is invalid.', { errors });
}

/** A UTF-16 surrogate without its pair: JSON can spell it ("\ud800"), UTF-8 (gRPC, PostgreSQL) cannot. */
const UNPAIRED_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/**
 * The dotted path ("body.card.holderName") of the first string, key or value,
 * that is not well-formed Unicode, or undefined. Iterative, so a deeply
 * nested body cannot overflow the stack; bodies are bounded by their size limit.
 */
export function firstIllFormedString(value: unknown, prefix = 'body'): string | undefined {
  const stack: { node: unknown; path: string }[] = [{ node: value, path: prefix }];
  while (stack.length > 0) {
    const { node, path } = stack.pop()!;
    if (typeof node === 'string') {
      if (UNPAIRED_SURROGATE.test(node)) return path;
    } else if (Array.isArray(node)) {
      node.forEach((item, index) => stack.push({ node: item, path: `${path}.${index}` }));
    } else if (node !== null && typeof node === 'object') {
      for (const [key, item] of Object.entries(node)) {
        const keyPath = `${path}.${key.replace(UNPAIRED_SURROGATE, '\ufffd')}`;
        if (UNPAIRED_SURROGATE.test(key)) return keyPath;
        stack.push({ node: item, path: keyPath });
      }
    }
  }
  return undefined;
}

/** 400 for text that has no UTF-8 form: passing it on would change it (U+FFFD) instead of storing it faithfully. */
export function checkWellFormedText(body: unknown): void {
  const field = firstIllFormedString(body);
  if (field === undefined) return;
  const message = 'must be valid Unicode text (it contains an unpaired UTF-16 surrogate)';
  throw new ProblemError(EDGE_PROBLEMS.validation, `${field} ${message}`, { errors: [{ field, message }] });
}
