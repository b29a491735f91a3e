import { Counter, type Registry } from 'prom-client';

export interface MockMetrics {
  /** Calls by operation (charge, find_charge, refund) and result (succeeded, declined, found, not_found, or a fault code). */
  calls: Counter<'operation' | 'result'>;
}

export function createMockMetrics(registry: Registry): MockMetrics {
  return {
    calls: new Counter({
      name: 'payment_gateway_mock_calls_total',
      help: 'Payment gateway mock calls by operation and result',
      labelNames: ['operation', 'result'],
      registers: [registry],
    }),
  };
}
