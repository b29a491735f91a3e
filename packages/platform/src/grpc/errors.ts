import { Metadata, status as Status, type ServiceError } from '@grpc/grpc-js';
import { Status as RpcStatus } from '@wallet/contracts/rpc-status';
import { BadRequest, ErrorInfo } from '@wallet/contracts/rpc';
import type { FieldViolation } from '../validation.js';

// The gRPC rich error model: the status travels in the standard
// `grpc-status-details-bin` trailer as a google.rpc.Status whose details hold
// a google.rpc.ErrorInfo (machine reason) and, for bad input, a BadRequest.

const DETAILS_KEY = 'grpc-status-details-bin';
const ERROR_INFO_TYPE = 'type.googleapis.com/google.rpc.ErrorInfo';
const BAD_REQUEST_TYPE = 'type.googleapis.com/google.rpc.BadRequest';

export interface RichErrorInit {
  code: Status;
  reason: string;
  message: string;
  domain: string;
  metadata?: Record<string, string>;
  fieldViolations?: FieldViolation[];
}

/** Builds a grpc-js ServiceError carrying google.rpc.Status details. */
export function richError(init: RichErrorInit): ServiceError {
  const details = [
    {
      typeUrl: ERROR_INFO_TYPE,
      value: Buffer.from(ErrorInfo.encode({ reason: init.reason, domain: init.domain, metadata: init.metadata ?? {} }).finish()),
    },
  ];
  if (init.fieldViolations?.length) {
    details.push({
      typeUrl: BAD_REQUEST_TYPE,
      value: Buffer.from(BadRequest.encode({ fieldViolations: init.fieldViolations }).finish()),
    });
  }
  const metadata = new Metadata();
  metadata.set(DETAILS_KEY, Buffer.from(RpcStatus.encode({ code: init.code, message: init.message, details }).finish()));
  const error = new Error(init.message) as ServiceError;
  error.code = init.code;
  error.details = init.message;
  error.metadata = metadata;
  return error;
}

export interface ParsedGrpcError {
  code: Status;
  message: string;
  reason: string | undefined;
  domain: string | undefined;
  metadata: Record<string, string>;
  fieldViolations: FieldViolation[];
}

/** OK, NOT_FOUND, ... (the metric label and error.type vocabulary). */
export function grpcStatusName(code: number): string {
  return Status[code] ?? 'UNKNOWN';
}

export function isServiceError(error: unknown): error is ServiceError {
  return typeof error === 'object' && error !== null && typeof (error as ServiceError).code === 'number';
}

/** Reads the code, reason and details back from any error thrown by a grpc-js call. */
export function parseGrpcError(error: unknown): ParsedGrpcError {
  if (!isServiceError(error)) {
    return { code: Status.UNKNOWN, message: String((error as Error)?.message ?? error), reason: undefined, domain: undefined, metadata: {}, fieldViolations: [] };
  }
  const parsed: ParsedGrpcError = {
    code: error.code,
    message: error.details || error.message,
    reason: undefined,
    domain: undefined,
    metadata: {},
    fieldViolations: [],
  };
  const raw = error.metadata?.get(DETAILS_KEY)[0];
  if (raw instanceof Buffer) {
    try {
      const rpcStatus = RpcStatus.decode(raw);
      for (const detail of rpcStatus.details) {
        if (detail.typeUrl === ERROR_INFO_TYPE) {
          const info = ErrorInfo.decode(detail.value);
          parsed.reason = info.reason;
          parsed.domain = info.domain;
          parsed.metadata = info.metadata;
        } else if (detail.typeUrl === BAD_REQUEST_TYPE) {
          parsed.fieldViolations = BadRequest.decode(detail.value).fieldViolations;
        }
      }
    } catch {
      // A malformed details trailer must not hide the status code itself.
    }
  }
  return parsed;
}
