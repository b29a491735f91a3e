import type { FastifyInstance } from 'fastify';
import { Counter, Histogram, type Registry } from 'prom-client';

const KNOWN_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

/**
 * Request count and duration by method, route pattern and status. Labels are
 * bounded: the route is the pattern (/accounts/:accountId/balance), never the
 * raw URL, and every unmatched request counts under "unmatched".
 */
export function installHttpMetrics(app: FastifyInstance, registry: Registry): void {
  const labelNames = ['method', 'route', 'status_code'] as const;
  const requests = new Counter({
    name: 'http_requests_total',
    help: 'HTTP requests answered by the gateway.',
    labelNames,
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'Time to answer an HTTP request.',
    labelNames,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  app.addHook('onResponse', async (request, reply) => {
    const labels = {
      method: KNOWN_METHODS.has(request.method) ? request.method : 'OTHER',
      route: request.routeOptions.url ?? 'unmatched',
      status_code: String(reply.statusCode),
    };
    const durationMs = reply.elapsedTime;
    requests.inc(labels);
    duration.observe(labels, durationMs / 1000);
    // One access line per request. Never the body: top-ups carry card data.
    request.log.info(
      { method: request.method, url: request.url, route: labels.route, statusCode: reply.statusCode, durationMs: Math.round(durationMs) },
      'request completed',
    );
  });
}
