import { status as Status, type ServiceError } from '@grpc/grpc-js';
import type { WebhookErrorReason as ProtoReasonEnum } from '@wallet/contracts/webhook';
import { richError } from '@wallet/platform';
import { WebhookError, type WebhookErrorReason } from '../domain/errors.js';

type ProtoReason = Exclude<keyof typeof ProtoReasonEnum, 'WEBHOOK_ERROR_REASON_UNSPECIFIED' | 'UNRECOGNIZED'> extends `WEBHOOK_ERROR_REASON_${infer R}` ? R : never;
/** Compile-time check: the domain's reasons are exactly the contract's WebhookErrorReason values. */
export const REASONS_MATCH_CONTRACT: [WebhookErrorReason] extends [ProtoReason] ? ([ProtoReason] extends [WebhookErrorReason] ? true : never) : never = true;

export const ERROR_DOMAIN = 'webhook.wallet';

/** The contract's code for each reason (webhook_service.proto comments). */
export const STATUS_BY_REASON: Record<WebhookErrorReason, Status> = {
  INVALID_ARGUMENT: Status.INVALID_ARGUMENT,
  URL_NOT_ALLOWED: Status.INVALID_ARGUMENT,
  NOT_FOUND: Status.NOT_FOUND,
  IDEMPOTENCY_KEY_REUSED: Status.FAILED_PRECONDITION,
  CALLER_UNAUTHENTICATED: Status.UNAUTHENTICATED,
  ROLE_FORBIDDEN: Status.PERMISSION_DENIED,
  TOO_MANY_ENDPOINTS: Status.FAILED_PRECONDITION,
  STORAGE_UNAVAILABLE: Status.UNAVAILABLE,
  IDENTITY_UNAVAILABLE: Status.UNAVAILABLE,
};

/** The one place a failure becomes a gRPC status with ErrorInfo (and BadRequest). */
export function toServiceError(error: unknown): ServiceError {
  if (error instanceof WebhookError) {
    return richError({
      code: STATUS_BY_REASON[error.reason],
      reason: error.reason,
      message: error.message,
      domain: ERROR_DOMAIN,
      metadata: error.metadata,
      fieldViolations: error.fieldViolations,
    });
  }
  return richError({ code: Status.INTERNAL, reason: 'UNSPECIFIED', message: 'internal error', domain: ERROR_DOMAIN });
}
