// One error class for every failure a caller can act on; the reason names are
// the proto's WebhookErrorReason without its prefix (grpc/errors.ts maps them once).
import type { FieldViolation } from '@wallet/platform';

export type WebhookErrorReason =
  | 'INVALID_ARGUMENT'
  | 'URL_NOT_ALLOWED'
  | 'NOT_FOUND'
  | 'IDEMPOTENCY_KEY_REUSED'
  | 'CALLER_UNAUTHENTICATED'
  | 'ROLE_FORBIDDEN'
  | 'TOO_MANY_ENDPOINTS'
  | 'STORAGE_UNAVAILABLE'
  | 'IDENTITY_UNAVAILABLE';

export class WebhookError extends Error {
  constructor(
    readonly reason: WebhookErrorReason,
    message: string,
    readonly fieldViolations: FieldViolation[] = [],
    readonly metadata: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'WebhookError';
  }
}

export function invalidArgument(violations: FieldViolation[]): WebhookError {
  return new WebhookError('INVALID_ARGUMENT', `invalid request: ${violations.map((v) => `${v.field}: ${v.description}`).join('; ')}`, violations);
}

export function urlNotAllowed(description: string): WebhookError {
  return new WebhookError('URL_NOT_ALLOWED', `url not allowed: ${description}`, [{ field: 'url', description }]);
}

export function notFound(what: 'endpoint' | 'delivery'): WebhookError {
  return new WebhookError('NOT_FOUND', `${what} not found`);
}
