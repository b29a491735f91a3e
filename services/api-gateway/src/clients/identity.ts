import { rootCertificates } from 'node:tls';
import { injectTraceHeaders, recordSpanError, SpanKind, withSpan } from '@wallet/platform/tracing';
import { Agent, fetch, type Response } from 'undici';

// The identity-service's public /auth/* endpoints, forwarded as they are: the
// gateway relays bytes and the headers that matter, and never reads, logs or
// rewrites a body (they hold passwords, tokens and client secrets).

export type IdentityPath = '/auth/register' | '/auth/token' | '/auth/logout' | '/auth/authorize' | '/auth/revoke';

export interface IdentityRequest {
  path: IdentityPath;
  /** POST unless said (GET /auth/authorize: the sign-in page). */
  method?: 'GET' | 'POST';
  /** The caller's query string with its leading "?" (the sign-in page's OAuth parameters), relayed as it came. */
  query?: string;
  /** The caller's body, unparsed (JSON for register, form for token, either for logout). */
  body: Buffer;
  headers: Readonly<Record<string, string | undefined>>;
}

export interface IdentityResponse {
  status: number;
  /** Only the relayed headers (see RELAYED_RESPONSE_HEADERS), lower-case names; `set-cookie` as a list (one per cookie). */
  headers: Record<string, string | string[]>;
  body: Buffer;
}

export interface IdentityApi {
  forward(request: IdentityRequest): Promise<IdentityResponse>;
  /** Closes pooled connections (at shutdown). */
  close?(): Promise<void>;
}

/** The identity-service could not be reached (connection refused, reset, DNS). */
export class IdentityUnavailableError extends Error {
  override name = 'IdentityUnavailableError';
}
/** No complete answer within the deadline: whether it acted (e.g. registered) is unknown. */
export class IdentityTimeoutError extends Error {
  override name = 'IdentityTimeoutError';
}
/** An answer the gateway will not relay (larger than the bound). */
export class IdentityBadResponseError extends Error {
  override name = 'IdentityBadResponseError';
}

/**
 * Request headers the identity-service needs: media type, client authentication (Basic), correlation,
 * and the client address as the gateway trusts it (the route sets request.ip, never the client's own header).
 */
export const FORWARDED_REQUEST_HEADERS = ['content-type', 'authorization', 'accept', 'x-request-id', 'x-forwarded-for', 'x-forwarded-proto', 'cookie'] as const;

/**
 * Response headers relayed unchanged (RFC 6749 5.1 caching, RFC 6750/7617 challenges, rate limits), and
 * the sign-in page's redirect and own security headers (its CSP replaces the API's `default-src 'none'`).
 */
const RELAYED_RESPONSE_HEADER =
  /^(content-type|cache-control|pragma|retry-after|www-authenticate|ratelimit(-[a-z]+)?|x-ratelimit-[a-z]+|location|content-security-policy|x-frame-options|referrer-policy)$/;

export interface IdentityClientOptions {
  baseUrl: string;
  timeoutMs: number;
  responseBytesMax: number;
  /**
   * PEM CA bundle trusted besides the system roots for an https baseUrl (the
   * internal CA, TLS_CA_FILE), as the token verifier does. The host name is checked as usual.
   */
  ca?: Buffer;
}

async function readBounded(response: Response, bytesMax: number): Promise<Buffer> {
  if (response.body === null) return Buffer.alloc(0);
  const chunks: Uint8Array[] = [];
  let total = 0;
  for await (const chunk of response.body) {
    total += chunk.byteLength;
    if (total > bytesMax) {
      await response.body.cancel().catch(() => undefined);
      throw new IdentityBadResponseError(`identity-service answer larger than ${bytesMax} bytes`);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

function toForwardError(error: unknown): Error {
  if (error instanceof IdentityBadResponseError) return error;
  const name = (error as { name?: string } | null)?.name;
  if (name === 'TimeoutError' || name === 'AbortError') return new IdentityTimeoutError('identity-service deadline exceeded');
  const cause = (error as { cause?: { code?: string } } | null)?.cause?.code;
  return new IdentityUnavailableError(`identity-service unreachable${cause ? ` (${cause})` : ''}`);
}

/** server.address/port of the base URL (semantic conventions of an HTTP CLIENT span). */
function serverAttributes(base: URL): Record<string, string | number> {
  const port = base.port === '' ? (base.protocol === 'https:' ? 443 : 80) : Number(base.port);
  return { 'server.address': base.hostname, 'server.port': port };
}

/**
 * fetch (undici) with one deadline over the whole exchange, body included, and a bound on the answer.
 * Each call is a CLIENT span `POST` with the path (fixed: /auth/...) and status; its traceparent goes
 * along, so the identity-service links its own trace to it. No header value and no body is recorded.
 */
export function createIdentityClient(options: IdentityClientOptions): IdentityApi {
  const base = options.baseUrl.replace(/\/+$/, '');
  const baseUrl = new URL(base);
  const server = serverAttributes(baseUrl);
  // url.full without any user info a misconfigured URL might carry.
  const fullBase = `${baseUrl.protocol}//${baseUrl.host}${baseUrl.pathname.replace(/\/+$/, '')}`;
  const dispatcher = new Agent({ connect: options.ca ? { ca: [...rootCertificates, options.ca.toString()], minVersion: 'TLSv1.2' } : {} });
  const attributesOf = (path: IdentityPath, method: string) => ({ 'http.request.method': method, 'url.full': `${fullBase}${path}`, 'url.path': path, ...server });
  return {
    close: () => dispatcher.close(),
    forward: (request) =>
      withSpan(request.method ?? 'POST', { kind: SpanKind.CLIENT, attributes: attributesOf(request.path, request.method ?? 'POST') }, async (span) => {
        try {
          const answer = await exchange(`${base}${request.path}${request.query ?? ''}`, request, dispatcher, options);
          span.setAttribute('http.response.status_code', answer.status);
          // Semantic conventions: an HTTP client span with a 4xx/5xx answer is an error of type "<status>".
          if (answer.status >= 400) recordSpanError(span, undefined, undefined, String(answer.status));
          return answer;
        } catch (error) {
          // withSpan records the class (IdentityTimeoutError...) as error.type; never the raw message.
          throw toForwardError(error);
        }
      }),
  };
}

async function exchange(url: string, request: IdentityRequest, dispatcher: Agent, options: IdentityClientOptions): Promise<IdentityResponse> {
  // traceparent of the active (CLIENT) span; the caller's own traceparent is never forwarded.
  const headers: Record<string, string> = injectTraceHeaders({});
  for (const name of FORWARDED_REQUEST_HEADERS) {
    const value = request.headers[name];
    if (value !== undefined) headers[name] = value;
  }
  const response = await fetch(url, {
    method: request.method ?? 'POST',
    headers,
    body: request.body.length > 0 && request.method !== 'GET' ? request.body : null,
    redirect: 'manual',
    dispatcher,
    signal: AbortSignal.timeout(options.timeoutMs),
  });
  const body = await readBounded(response, options.responseBytesMax);
  const relayed: Record<string, string | string[]> = {};
  response.headers.forEach((value, name) => {
    if (RELAYED_RESPONSE_HEADER.test(name)) relayed[name] = value;
  });
  // The sign-in page's session cookie (one Set-Cookie per Path); the route relays it for /auth/authorize and /auth/logout only.
  const cookies = response.headers.getSetCookie();
  if (cookies.length > 0) relayed['set-cookie'] = cookies;
  return { status: response.status, headers: relayed, body };
}
