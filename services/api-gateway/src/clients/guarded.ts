import { parseGrpcError, type Logger } from '@wallet/platform';
import { createBreaker, isInfrastructureFailure, type Breaker } from '@wallet/platform/resilience';
import type { Registry } from 'prom-client';
import type { AnalyticsApi, BankApi, CardAdapterApi, Dependency, GatewayClients, WebhookApi } from './types.js';

// A circuit breaker per downstream service (C2, @wallet/platform/resilience on
// opossum): when one keeps failing (UNAVAILABLE, DEADLINE_EXCEEDED, INTERNAL,
// UNKNOWN, RESOURCE_EXHAUSTED: never a business answer), its breaker opens and
// calls to it are refused at once with BreakerOpenError, which the error
// handler answers 503 dependency-unavailable + Retry-After. Nothing is sent
// while open, so a refused transfer or top-up certainly did not happen, and
// clients stop waiting out deadlines on a dead dependency. Health probes
// bypass the breakers: readiness reports what the dependency says.

/** Breaker names as in circuit_breaker_*{breaker} and the /readyz detail. */
export const BREAKER_NAMES: Readonly<Record<Dependency, string>> = {
  bank: 'bank',
  cardAdapter: 'card_adapter',
  analytics: 'analytics',
  webhooks: 'webhooks',
};

/** How a dependency is named to REST clients in a 503 dependency-unavailable. */
export const DEPENDENCY_TITLES: Readonly<Record<string, string>> = {
  bank: 'the bank service',
  card_adapter: 'the card top-up service (bank-card-adapter)',
  analytics: 'the analytics service (history and summaries)',
  webhooks: 'the webhook service',
};

export type GatewayBreakers = Record<Dependency, Breaker>;

export interface GatewayBreakersConfig {
  GATEWAY_BREAKER_RESET_TIMEOUT_MS: number;
  GATEWAY_BREAKER_FAILURE_PERCENT_MAX: number;
  GATEWAY_BREAKER_VOLUME_MIN: number;
  GATEWAY_BREAKER_WINDOW_MS: number;
}

/**
 * What counts against a dependency's breaker: infrastructure failures, except
 * an answer in which the dependency itself reports that something *behind* it
 * is unavailable (ErrorInfo metadata `unavailable`, e.g. the card adapter with
 * its payment gateway breaker open). That dependency is healthy and answering
 * fast; counting it opened the gateway's card_adapter breaker whenever the
 * payment gateway was down, refusing top-ups for longer than the outage.
 */
export function countsAgainstDependency(error: unknown): boolean {
  if (!isInfrastructureFailure(error)) return false;
  return parseGrpcError(error).metadata.unavailable === undefined;
}

export function createGatewayBreakers(config: GatewayBreakersConfig, registry: Registry, logger: Logger): GatewayBreakers {
  const options = {
    registry,
    logger,
    isFailure: countsAgainstDependency,
    resetTimeoutMs: config.GATEWAY_BREAKER_RESET_TIMEOUT_MS,
    errorThresholdPercentage: config.GATEWAY_BREAKER_FAILURE_PERCENT_MAX,
    volumeThreshold: config.GATEWAY_BREAKER_VOLUME_MIN,
    rollingCountTimeoutMs: config.GATEWAY_BREAKER_WINDOW_MS,
  };
  return {
    bank: createBreaker(BREAKER_NAMES.bank, options),
    cardAdapter: createBreaker(BREAKER_NAMES.cardAdapter, options),
    analytics: createBreaker(BREAKER_NAMES.analytics, options),
    webhooks: createBreaker(BREAKER_NAMES.webhooks, options),
  };
}

function guardBank(bank: BankApi, breaker: Breaker): BankApi {
  return {
    transferMoney: (request, context) => breaker.run(() => bank.transferMoney(request, context)),
    getBalance: (request, context) => breaker.run(() => bank.getBalance(request, context)),
    createAccount: (request, context) => breaker.run(() => bank.createAccount(request, context)),
    listAccounts: (request, context) => breaker.run(() => bank.listAccounts(request, context)),
    reverseTransfer: (request, context) => breaker.run(() => bank.reverseTransfer(request, context)),
    listReversals: (request, context) => breaker.run(() => bank.listReversals(request, context)),
    verifyLedger: (request, context) => breaker.run(() => bank.verifyLedger(request, context)),
    createHold: (request, context) => breaker.run(() => bank.createHold(request, context)),
    captureHold: (request, context) => breaker.run(() => bank.captureHold(request, context)),
    voidHold: (request, context) => breaker.run(() => bank.voidHold(request, context)),
    getHold: (request, context) => breaker.run(() => bank.getHold(request, context)),
    getAccountLimits: (request, context) => breaker.run(() => bank.getAccountLimits(request, context)),
    setAccountLimits: (request, context) => breaker.run(() => bank.setAccountLimits(request, context)),
    getBalanceAt: (request, context) => breaker.run(() => bank.getBalanceAt(request, context)),
    // A stream is not one promise: not counted by the breaker (a rare, long read; its own deadline bounds it).
    getStatement: (request, context) => bank.getStatement(request, context),
    checkHealth: (timeoutMs) => bank.checkHealth(timeoutMs),
  };
}

function guardCardAdapter(cardAdapter: CardAdapterApi, breaker: Breaker): CardAdapterApi {
  return {
    processCardTopUp: (request, context) => breaker.run(() => cardAdapter.processCardTopUp(request, context)),
    refundTopUp: (request, context) => breaker.run(() => cardAdapter.refundTopUp(request, context)),
    getTopUpRefund: (request, context) => breaker.run(() => cardAdapter.getTopUpRefund(request, context)),
    checkHealth: (timeoutMs) => cardAdapter.checkHealth(timeoutMs),
  };
}

function guardAnalytics(analytics: AnalyticsApi, breaker: Breaker): AnalyticsApi {
  return {
    getOperations: (request, context) => breaker.run(() => analytics.getOperations(request, context)),
    getAccountSummary: (request, context) => breaker.run(() => analytics.getAccountSummary(request, context)),
    checkHealth: (timeoutMs) => analytics.checkHealth(timeoutMs),
  };
}

function guardWebhooks(webhooks: WebhookApi, breaker: Breaker): WebhookApi {
  return {
    createEndpoint: (request, context) => breaker.run(() => webhooks.createEndpoint(request, context)),
    listEndpoints: (request, context) => breaker.run(() => webhooks.listEndpoints(request, context)),
    getEndpoint: (request, context) => breaker.run(() => webhooks.getEndpoint(request, context)),
    deleteEndpoint: (request, context) => breaker.run(() => webhooks.deleteEndpoint(request, context)),
    listDeliveries: (request, context) => breaker.run(() => webhooks.listDeliveries(request, context)),
    redeliver: (request, context) => breaker.run(() => webhooks.redeliver(request, context)),
    rotateSecret: (request, context) => breaker.run(() => webhooks.rotateSecret(request, context)),
    checkHealth: (timeoutMs) => webhooks.checkHealth(timeoutMs),
  };
}

/** The same clients, every RPC behind its dependency's breaker; close() also stops the breakers. */
export function guardClients(clients: GatewayClients, breakers: GatewayBreakers): GatewayClients {
  return {
    bank: guardBank(clients.bank, breakers.bank),
    cardAdapter: guardCardAdapter(clients.cardAdapter, breakers.cardAdapter),
    analytics: guardAnalytics(clients.analytics, breakers.analytics),
    webhooks: guardWebhooks(clients.webhooks, breakers.webhooks),
    breakerStates: () => ({
      [BREAKER_NAMES.bank]: breakers.bank.state(),
      [BREAKER_NAMES.cardAdapter]: breakers.cardAdapter.state(),
      [BREAKER_NAMES.analytics]: breakers.analytics.state(),
      [BREAKER_NAMES.webhooks]: breakers.webhooks.state(),
    }),
    close: () => {
      for (const breaker of Object.values(breakers)) breaker.shutdown();
      clients.close();
    },
  };
}
