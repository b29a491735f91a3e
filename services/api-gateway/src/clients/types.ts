import type {
  GetAccountSummaryRequest,
  GetAccountSummaryResponse,
  GetOperationsRequest,
  GetOperationsResponse,
} from '@wallet/contracts/analytics';
import type {
  CreateAccountRequest,
  CreateAccountResponse,
  GetBalanceRequest,
  GetBalanceResponse,
  GetBalanceAtRequest,
  GetBalanceAtResponse,
  GetStatementRequest,
  GetStatementResponse,
  ListAccountsRequest,
  ListAccountsResponse,
  ReverseTransferRequest,
  CreateHoldRequest,
  CreateHoldResponse,
  CaptureHoldRequest,
  CaptureHoldResponse,
  VoidHoldRequest,
  VoidHoldResponse,
  GetHoldRequest,
  GetHoldResponse,
  ReverseTransferResponse,
  ListReversalsRequest,
  ListReversalsResponse,
  VerifyLedgerRequest,
  VerifyLedgerResponse,
  TransferMoneyRequest,
  TransferMoneyResponse,
  GetAccountLimitsRequest,
  GetAccountLimitsResponse,
  SetAccountLimitsRequest,
  SetAccountLimitsResponse,
} from '@wallet/contracts/bank';
import type {
  GetTopUpRefundRequest,
  GetTopUpRefundResponse,
  ProcessCardTopUpRequest,
  ProcessCardTopUpResponse,
  RefundTopUpRequest,
  RefundTopUpResponse,
} from '@wallet/contracts/card-adapter';
import type {
  CreateEndpointRequest,
  CreateEndpointResponse,
  DeleteEndpointRequest,
  DeleteEndpointResponse,
  GetEndpointRequest,
  GetEndpointResponse,
  ListDeliveriesRequest,
  ListDeliveriesResponse,
  ListEndpointsRequest,
  ListEndpointsResponse,
  RedeliverRequest,
  RedeliverResponse,
  RotateSecretRequest,
  RotateSecretResponse,
} from '@wallet/contracts/webhook';

// What the routes need from the downstream services. The gRPC wrappers in
// this folder implement these; route tests pass fakes to buildServer.

/** Per-call context forwarded to the downstream service. */
export interface CallContext {
  /** Sent as `x-request-id` metadata so logs correlate across services. */
  requestId: string;
  /**
   * `Bearer <access token>` the gateway verified, forwarded as `authorization`
   * metadata: the bank and the card adapter verify it again themselves.
   */
  authorization?: string;
}

/** A dependency's health: "ok", or why not (e.g. "NOT_SERVING", "UNAVAILABLE"). */
export type HealthState = 'ok' | (string & {});

export interface HealthCheckable {
  /** grpc.health.v1 Check with a deadline; never rejects. */
  checkHealth(timeoutMs: number): Promise<HealthState>;
}

export interface BankApi extends HealthCheckable {
  transferMoney(request: TransferMoneyRequest, context: CallContext): Promise<TransferMoneyResponse>;
  getBalance(request: GetBalanceRequest, context: CallContext): Promise<GetBalanceResponse>;
  createAccount(request: CreateAccountRequest, context: CallContext): Promise<CreateAccountResponse>;
  listAccounts(request: ListAccountsRequest, context: CallContext): Promise<ListAccountsResponse>;
  reverseTransfer(request: ReverseTransferRequest, context: CallContext): Promise<ReverseTransferResponse>;
  listReversals(request: ListReversalsRequest, context: CallContext): Promise<ListReversalsResponse>;
  verifyLedger(request: VerifyLedgerRequest, context: CallContext): Promise<VerifyLedgerResponse>;
  createHold(request: CreateHoldRequest, context: CallContext): Promise<CreateHoldResponse>;
  captureHold(request: CaptureHoldRequest, context: CallContext): Promise<CaptureHoldResponse>;
  voidHold(request: VoidHoldRequest, context: CallContext): Promise<VoidHoldResponse>;
  getHold(request: GetHoldRequest, context: CallContext): Promise<GetHoldResponse>;
  getAccountLimits(request: GetAccountLimitsRequest, context: CallContext): Promise<GetAccountLimitsResponse>;
  setAccountLimits(request: SetAccountLimitsRequest, context: CallContext): Promise<SetAccountLimitsResponse>;
  getBalanceAt(request: GetBalanceAtRequest, context: CallContext): Promise<GetBalanceAtResponse>;
  /** A server stream (header, entry chunks, footer) under GATEWAY_STATEMENT_DEADLINE_MS. */
  getStatement(request: GetStatementRequest, context: CallContext): ServerStream<GetStatementResponse>;
}

/** A server-streaming call: its messages in order (an error ends the iteration); cancel() ends it early. */
export interface ServerStream<T> extends AsyncIterable<T> {
  cancel(): void;
}

export interface CardAdapterApi extends HealthCheckable {
  processCardTopUp(request: ProcessCardTopUpRequest, context: CallContext): Promise<ProcessCardTopUpResponse>;
  refundTopUp(request: RefundTopUpRequest, context: CallContext): Promise<RefundTopUpResponse>;
  getTopUpRefund(request: GetTopUpRefundRequest, context: CallContext): Promise<GetTopUpRefundResponse>;
}

export interface AnalyticsApi extends HealthCheckable {
  getOperations(request: GetOperationsRequest, context: CallContext): Promise<GetOperationsResponse>;
  getAccountSummary(request: GetAccountSummaryRequest, context: CallContext): Promise<GetAccountSummaryResponse>;
}

export interface WebhookApi extends HealthCheckable {
  createEndpoint(request: CreateEndpointRequest, context: CallContext): Promise<CreateEndpointResponse>;
  listEndpoints(request: ListEndpointsRequest, context: CallContext): Promise<ListEndpointsResponse>;
  getEndpoint(request: GetEndpointRequest, context: CallContext): Promise<GetEndpointResponse>;
  deleteEndpoint(request: DeleteEndpointRequest, context: CallContext): Promise<DeleteEndpointResponse>;
  listDeliveries(request: ListDeliveriesRequest, context: CallContext): Promise<ListDeliveriesResponse>;
  redeliver(request: RedeliverRequest, context: CallContext): Promise<RedeliverResponse>;
  rotateSecret(request: RotateSecretRequest, context: CallContext): Promise<RotateSecretResponse>;
}

/** A circuit breaker's state as @wallet/platform/resilience names it. */
export type BreakerStateName = 'closed' | 'open' | 'half_open';

/** The downstream services the gateway calls over gRPC (also the breaker names' keys). */
export type Dependency = 'bank' | 'cardAdapter' | 'analytics' | 'webhooks';

export interface GatewayClients {
  bank: BankApi;
  cardAdapter: CardAdapterApi;
  analytics: AnalyticsApi;
  webhooks: WebhookApi;
  /**
   * Each circuit breaker's state by breaker name (`bank`, `card_adapter`, `analytics`, `webhooks`, as in the
   * circuit_breaker_* metrics); absent when the clients have no breakers (test fakes).
   */
  breakerStates?(): Record<string, BreakerStateName>;
  /** Closes every channel (shutdown). */
  close(): void;
}
