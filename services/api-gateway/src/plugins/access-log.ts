import type { FastifyInstance } from 'fastify';

/**
 * One access line per request: method, URL path, route pattern, status and
 * duration; trace_id/span_id come with request.log (the platform's
 * httpServerObservability binds them), requestId from the logger's label.
 * Never the body (top-ups carry card data) nor a header value.
 * Request counts and durations are the platform's http_server_request_duration_seconds.
 */
export function installAccessLog(app: FastifyInstance): void {
  app.addHook('onResponse', async (request, reply) => {
    request.log.info(
      {
        method: request.method,
        url: request.url,
        route: request.routeOptions.url ?? 'unmatched',
        statusCode: reply.statusCode,
        durationMs: Math.round(reply.elapsedTime),
      },
      'request completed',
    );
  });
}
