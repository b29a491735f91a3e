// Failures a caller can act on, independent of transport; the gRPC layer maps
// each to a status and an ErrorInfo reason exactly once.

// One shape for a bad field everywhere (gRPC BadRequest, problem+json errors[]).
import type { FieldViolation } from '@wallet/platform';
export type { FieldViolation };

/** A request field is malformed or out of range. */
export class InvalidArgumentError extends Error {
  readonly violations: FieldViolation[];
  constructor(field: string, description: string) {
    super(`${field}: ${description}`);
    this.name = 'InvalidArgumentError';
    this.violations = [{ field, description }];
  }
}

/** The page token is garbage, tampered with, or was issued for other filters. */
export class InvalidCursorError extends Error {
  constructor(detail: string) {
    super(`invalid page token: ${detail}`);
    this.name = 'InvalidCursorError';
  }
}
