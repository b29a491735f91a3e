import {
  status as Status,
  type MethodDefinition,
  type ServiceDefinition,
  type ServiceError,
  type UntypedHandleCall,
  type UntypedServiceImplementation,
} from '@grpc/grpc-js';
import { richError } from '../grpc/errors.js';
import { peerServiceName, type CallWithAuthContext } from './peer.js';

/** ErrorInfo reasons of a refused caller (stable: clients and dashboards match on them). */
export const CALLER_NOT_ALLOWED = 'CALLER_NOT_ALLOWED';
export const CALLER_UNAUTHENTICATED = 'CALLER_UNAUTHENTICATED';

/**
 * Who may call what on one service: for every RPC (the key grpc-js uses in the
 * service definition and implementation, e.g. `depositMoney`) the service
 * names allowed to call it. Typed exhaustive over the implementation; an RPC
 * missing at run time, or with an empty list, is denied.
 */
export type CallerTable<I> = { readonly [K in keyof I]: readonly string[] };

export interface CallerDenial {
  rpc: string;
  /** The caller's service name, or null when it presented no verified certificate. */
  caller: string | null;
  reason: typeof CALLER_NOT_ALLOWED | typeof CALLER_UNAUTHENTICATED;
}

export interface AuthorizeOptions {
  /** ErrorInfo domain of the service (its ERROR_DOMAIN, e.g. bank.wallet). */
  domain: string;
  /** Told about each refused call (log and count it). */
  onDenied?: (denial: CallerDenial) => void;
}

/** The decision for one call: null to let it through, else why not. */
export function decideCaller(
  table: Readonly<Record<string, readonly string[] | undefined>>,
  rpc: string,
  caller: string | null,
): CallerDenial | null {
  if (caller === null) return { rpc, caller, reason: CALLER_UNAUTHENTICATED };
  const allowed = Object.hasOwn(table, rpc) ? table[rpc] : undefined;
  return allowed?.includes(caller) ? null : { rpc, caller, reason: CALLER_NOT_ALLOWED };
}

function deniedError(denial: CallerDenial, rpcName: string, domain: string): ServiceError {
  if (denial.reason === CALLER_UNAUTHENTICATED) {
    return richError({ code: Status.UNAUTHENTICATED, reason: denial.reason, domain, message: `${rpcName} requires a client certificate` });
  }
  return richError({
    code: Status.PERMISSION_DENIED,
    reason: denial.reason,
    domain,
    message: `${denial.caller ?? 'caller'} may not call ${rpcName}`,
    metadata: { caller: denial.caller ?? '', rpc: rpcName },
  });
}

type AnyCall = CallWithAuthContext & { emit(event: 'error', error: ServiceError): boolean };
type AnyHandler = (call: AnyCall, callback?: (error: ServiceError | null, value?: unknown) => void) => void;

function guard(method: MethodDefinition<unknown, unknown>, rpc: string, handler: AnyHandler, table: Record<string, readonly string[] | undefined>, options: AuthorizeOptions): AnyHandler {
  const rpcName = method.originalName ?? rpc;
  const rpcLabel = method.path.split('/').pop() ?? rpcName;
  const hasCallback = !method.responseStream; // unary and client-streaming answer through a callback
  return (call, callback) => {
    const denial = decideCaller(table, rpc, peerServiceName(call));
    if (denial === null) return handler(call, callback);
    options.onDenied?.(denial);
    const error = deniedError(denial, rpcLabel, options.domain);
    if (hasCallback && callback) callback(error, null);
    else call.emit('error', error);
  };
}

/**
 * Wraps every RPC of `implementation` so the caller's identity (its client
 * certificate's service name, see peerServiceName) is checked against `table`
 * before the handler runs: not listed -> PERMISSION_DENIED with ErrorInfo
 * reason CALLER_NOT_ALLOWED; no verified certificate -> UNAUTHENTICATED
 * (CALLER_UNAUTHENTICATED). RPCs of the definition absent from the table are
 * denied. Register the result with server.addService(definition, ...).
 */
export function authorizeCallers<I extends UntypedServiceImplementation>(
  definition: ServiceDefinition,
  implementation: I,
  table: CallerTable<I>,
  options: AuthorizeOptions,
): I {
  const lookup = table as Readonly<Record<string, readonly string[] | undefined>>;
  const wrapped: UntypedServiceImplementation = {};
  for (const [rpc, method] of Object.entries(definition)) {
    const original = (method as MethodDefinition<unknown, unknown>).originalName;
    // grpc-js accepts a handler under the definition's key or the RPC's original name;
    // the table row is looked up under the same key as the handler.
    const key = implementation[rpc] === undefined && original !== undefined ? original : rpc;
    const handler = implementation[key] as UntypedHandleCall | undefined;
    // An unimplemented RPC stays absent: grpc-js answers UNIMPLEMENTED as before.
    if (handler === undefined) continue;
    wrapped[rpc] = guard(method as MethodDefinition<unknown, unknown>, key, handler as unknown as AnyHandler, lookup, options) as unknown as UntypedHandleCall;
  }
  return wrapped as I;
}
