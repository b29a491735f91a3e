// The one mapping from failures to gRPC statuses for this service: every
// failure becomes a reason, and one exhaustive table gives each reason its
// status. Reasons are the ErrorReason enum names of the proto, without prefix.
import { status as Status, type ServiceError } from '@grpc/grpc-js';
import type { ErrorReason } from '@wallet/contracts/analytics';
import { richError, type Logger } from '@wallet/platform';
import { InvalidArgumentError, InvalidCursorError } from '../domain/errors.js';
import { classifyStoreFailure } from '../store/errors.js';

export const ERROR_DOMAIN = 'analytics.wallet';

/** The proto's ErrorReason names without prefix, so the table below follows the contract at compile time. */
type ProtoReason = Exclude<{ [K in keyof typeof ErrorReason]: K extends `ERROR_REASON_${infer R}` ? R : never }[keyof typeof ErrorReason], 'UNSPECIFIED'>;
export type Reason = ProtoReason | 'INTERNAL';

/** Exhaustive: adding a reason without a status does not compile. */
export const STATUS_OF_REASON: Record<Reason, Status> = {
  INVALID_ARGUMENT: Status.INVALID_ARGUMENT,
  INVALID_CURSOR: Status.INVALID_ARGUMENT,
  // Overload, timeouts, unreachable: the caller may retry later (REST 503).
  STORE_UNAVAILABLE: Status.UNAVAILABLE,
  INTERNAL: Status.INTERNAL,
};

/** Marks a failure as the store's, so it is classified as such. */
export class StoreError extends Error {
  constructor(cause: unknown) {
    super(`store: ${(cause as Error)?.message ?? String(cause)}`, { cause });
    this.name = 'StoreError';
  }
}

export async function fromStore<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    throw new StoreError(error);
  }
}

function reasonOf(error: unknown): Reason {
  if (error instanceof InvalidCursorError) return 'INVALID_CURSOR';
  if (error instanceof InvalidArgumentError) return 'INVALID_ARGUMENT';
  // A query the store refuses for good (unknown table, bad SQL) is our bug, not the store down.
  if (error instanceof StoreError) return classifyStoreFailure(error.cause) === 'transient' ? 'STORE_UNAVAILABLE' : 'INTERNAL';
  return 'INTERNAL';
}

const PUBLIC_MESSAGE: Record<Exclude<Reason, 'INVALID_ARGUMENT' | 'INVALID_CURSOR'>, string> = {
  STORE_UNAVAILABLE: 'analytics store unavailable',
  INTERNAL: 'internal error',
};

export function toServiceError(error: unknown, logger: Logger, method: string): ServiceError {
  const reason = reasonOf(error);
  const code = STATUS_OF_REASON[reason];
  switch (reason) {
    case 'INVALID_CURSOR':
      return richError({ code, reason, domain: ERROR_DOMAIN, message: (error as Error).message, fieldViolations: [{ field: 'page_token', description: (error as Error).message }] });
    case 'INVALID_ARGUMENT':
      return richError({ code, reason, domain: ERROR_DOMAIN, message: (error as Error).message, fieldViolations: (error as InvalidArgumentError).violations });
    default:
      // Server text may name tables or settings: logged, never returned.
      logger.error({ err: error instanceof StoreError ? error.cause : error, method, reason }, 'request failed');
      return richError({ code, reason, domain: ERROR_DOMAIN, message: PUBLIC_MESSAGE[reason] });
  }
}
