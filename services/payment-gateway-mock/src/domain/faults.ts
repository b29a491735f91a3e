/**
 * What a caller may conclude from a failed call, as a real provider's error
 * kinds would tell it:
 * - not_processed: nothing happened (safe to retry or give up).
 * - unknown: the request may have been applied (answer lost).
 * - timeout: no answer within the caller's deadline.
 * - rejected: refused for good (bad request, key conflict, not refundable).
 */
export type FaultKind = 'not_processed' | 'unknown' | 'timeout' | 'rejected';

/** A simulated or business failure of the provider. */
export class GatewayFault extends Error {
  constructor(
    readonly kind: FaultKind,
    readonly code: string,
    message: string,
    /** HTTP: drop the connection instead of answering. */
    readonly dropConnection = false,
  ) {
    super(message);
    this.name = 'GatewayFault';
  }
}
