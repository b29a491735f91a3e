import type { FastifyInstance } from 'fastify';

/**
 * One access line per request: method, URL path, route pattern, status and
 * duration; trace_id/span_id come with request.log (the platform's
 * httpServerObservability binds them), requestId from the logger's label.
 * Never the body (top-ups carry card data) nor a header value.
 * Request counts and durations are the platform's http_server_request_duration_seconds.
 * Query values that are credentials (the web app's sign-in callback carries
 * `?code=…&state=…`) are replaced by `[redacted]`.
 */
export function installAccessLog(app: FastifyInstance): void {
  app.addHook('onResponse', async (request, reply) => {
    request.log.info(
      {
        method: request.method,
        url: loggableUrl(request.url),
        route: request.routeOptions.url ?? 'unmatched',
        statusCode: reply.statusCode,
        durationMs: Math.round(reply.elapsedTime),
      },
      'request completed',
    );
  });
}

/** Query parameters whose values are credentials or bind one (OAuth 2.0 code flow, RFC 7009). */
const SECRET_QUERY_PARAMETERS = ['code', 'code_verifier', 'state', 'token', 'access_token', 'refresh_token', 'password', 'client_secret'];
const SECRET_QUERY = new RegExp(`[?&](${SECRET_QUERY_PARAMETERS.join('|')})=`, 'i');

/** The URL as logged: unchanged unless its query names a secret parameter (cheap test first). */
export function loggableUrl(url: string): string {
  const queryAt = url.indexOf('?');
  if (queryAt < 0 || !SECRET_QUERY.test(url)) return url;
  const query = new URLSearchParams(url.slice(queryAt + 1));
  for (const name of [...query.keys()]) {
    if (SECRET_QUERY_PARAMETERS.includes(name.toLowerCase())) query.set(name, '[redacted]');
  }
  return `${url.slice(0, queryAt)}?${query.toString()}`;
}
