// The gRPC service config of a balanced client (grpc-js validates it in
// service-config.ts and applies it in retrying-call.ts): round_robin over every
// address the resolver hands over, and a retryPolicy for the methods that are
// safe to send twice.
//
// The rule (each caller states per RPC why, in `retryable` / `notRetried`): a
// read is retried; a mutating RPC is retried by the channel only if it carries
// its idempotency key AND the server answers a replay with the first answer.
// Only UNAVAILABLE is retried (the backend went away or refused: another replica
// may answer); DEADLINE_EXCEEDED is not (the deadline is the caller's whole
// budget). A call that never left the client (grpc-js status progress
// NOT_STARTED/REFUSED) is retried transparently for every method, retryPolicy
// or not, once createGrpcClient has enabled retries (grpc.enable_retries).
// Each attempt goes through the load balancer again, so round_robin sends a
// retry to the next backend.

/** Attempts including the first; grpc-js caps it at 5 (grpc-node.retry_max_attempts_limit). */
export const RETRY_ATTEMPTS_MAX = 3;

export interface GrpcMethodName {
  service: string;
  method: string;
}

/** The JSON service config (gRFC A6 retry policy, A2 LB policy) as grpc-js reads it from grpc.service_config. */
export interface GrpcServiceConfig {
  loadBalancingConfig: [{ round_robin: Record<string, never> }];
  methodConfig: Array<{ name: GrpcMethodName[]; retryPolicy?: GrpcRetryPolicy }>;
  /**
   * Token bucket (gRFC A6): a failure takes 1 token, a success gives tokenRatio,
   * retries only while tokens > maxTokens / 2. With 10 and 1, retries stop once
   * failures outnumber successes by 5 (a broad outage) and one bad replica among
   * three never throttles them; gRPC's usual 0.1 would stop retries at ~10 % failures.
   */
  retryThrottling: { maxTokens: number; tokenRatio: number };
}

export interface GrpcRetryPolicy {
  maxAttempts: number;
  initialBackoff: string;
  maxBackoff: string;
  backoffMultiplier: number;
  retryableStatusCodes: ['UNAVAILABLE'];
}

export const RETRY_POLICY: GrpcRetryPolicy = {
  maxAttempts: RETRY_ATTEMPTS_MAX,
  initialBackoff: '0.05s',
  maxBackoff: '0.5s',
  backoffMultiplier: 2,
  retryableStatusCodes: ['UNAVAILABLE'],
};

export interface GrpcServiceConfigInput {
  /** Fully qualified service name, e.g. wallet.bank.v1.BankService. */
  service: string;
  /** Method (as in the .proto, e.g. GetBalance) -> why sending it twice is safe. */
  retryable: Record<string, string>;
  /** Method -> why the channel must not send it twice. */
  notRetried: Record<string, string>;
}

/**
 * Builds the service config for createGrpcClient. Every method of the service
 * must be in exactly one of the two tables (createGrpcClient checks the client's
 * methods against them), each with its reason.
 */
export function grpcServiceConfig(input: GrpcServiceConfigInput): GrpcServiceConfig {
  const both = Object.keys(input.retryable).filter((method) => method in input.notRetried);
  if (both.length > 0) throw new Error(`${input.service}: ${both.join(', ')} both retryable and not retried`);
  const blank = [...Object.entries(input.retryable), ...Object.entries(input.notRetried)].filter(([, why]) => why.trim() === '');
  if (blank.length > 0) throw new Error(`${input.service}: say why for ${blank.map(([m]) => m).join(', ')}`);
  const names = (table: Record<string, string>): GrpcMethodName[] => Object.keys(table).map((method) => ({ service: input.service, method }));
  const methodConfig: GrpcServiceConfig['methodConfig'] = [];
  if (Object.keys(input.retryable).length > 0) methodConfig.push({ name: names(input.retryable), retryPolicy: RETRY_POLICY });
  // Listed without a policy: documents the decision and lets the coverage check see it.
  if (Object.keys(input.notRetried).length > 0) methodConfig.push({ name: names(input.notRetried) });
  return {
    loadBalancingConfig: [{ round_robin: {} }],
    methodConfig,
    retryThrottling: { maxTokens: 10, tokenRatio: 1 },
  };
}

/** Methods of `service` that the config states no decision for (empty = complete). */
export function undecidedMethods(config: GrpcServiceConfig, service: string, methods: string[]): string[] {
  const decided = new Set(config.methodConfig.flatMap((entry) => entry.name).filter((n) => n.service === service).map((n) => n.method));
  return methods.filter((method) => !decided.has(method));
}
