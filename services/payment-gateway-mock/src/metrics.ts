import { redHistogram } from '@wallet/platform';
import { Counter, type Histogram, type Registry } from 'prom-client';

export interface MockMetrics {
  /** Calls by operation (charge, find_charge, refund) and result (succeeded, declined, found, not_found, or a fault code). */
  calls: Counter<'operation' | 'result'>;
  /** Requests refused before anything ran: caller_not_allowed (client certificate) or invalid_api_key, by caller. */
  refused: Counter<'reason' | 'caller'>;
  /** Every API request (the platform's RED histogram, as the Fastify services have it): route template, status code. */
  requestDuration: Histogram<'method' | 'route' | 'status_code'>;
}

export function createMockMetrics(registry: Registry): MockMetrics {
  return {
    calls: new Counter({
      name: 'payment_gateway_mock_calls_total',
      help: 'Payment gateway mock calls by operation and result',
      labelNames: ['operation', 'result'],
      registers: [registry],
    }),
    refused: new Counter({
      name: 'payment_gateway_mock_requests_refused_total',
      help: 'Requests refused before anything ran, by reason (caller_not_allowed, invalid_api_key) and caller (client certificate name)',
      labelNames: ['reason', 'caller'],
      registers: [registry],
    }),
    requestDuration: redHistogram(registry, 'http_server_request_duration_seconds', 'HTTP requests served, by method, route template and status code', [
      'method',
      'route',
      'status_code',
    ]),
  };
}
