import { rootCertificates } from 'node:tls';
import { injectTraceHeaders, SpanKind, withSpan } from '@wallet/platform/tracing';
import { Agent, fetch } from 'undici';
import { IdentityBadResponseError, IdentityTimeoutError, IdentityUnavailableError } from './identity.js';

// GET /users?username= of the identity-service, for the console's owner lookup.
// The caller's own (support or admin) bearer token goes along: the
// identity-service decides who may look users up.

export interface IdentityUser {
  userId: string;
  username: string;
  roles: string[];
}

export interface IdentityUsersApi {
  /** undefined: no such user. Throws IdentityTimeoutError / IdentityUnavailableError / IdentityBadResponseError, or IdentityForbiddenError. */
  findByUsername(username: string, context: { requestId: string; authorization: string }): Promise<IdentityUser | undefined>;
  close(): Promise<void>;
}

/** The identity-service refused the caller's token for the lookup (401/403). */
export class IdentityForbiddenError extends Error {
  override name = 'IdentityForbiddenError';
}

const ANSWER_BYTES_MAX = 16 * 1024;

function isUser(value: unknown): value is IdentityUser {
  const v = value as Partial<IdentityUser> | null;
  return typeof v?.userId === 'string' && typeof v.username === 'string' && Array.isArray(v.roles);
}

async function readBounded(body: AsyncIterable<Uint8Array> | null): Promise<string> {
  if (body === null) return '';
  const chunks: Uint8Array[] = [];
  let total = 0;
  for await (const chunk of body) {
    total += chunk.byteLength;
    if (total > ANSWER_BYTES_MAX) throw new IdentityBadResponseError(`identity-service answer larger than ${ANSWER_BYTES_MAX} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

export function createIdentityUsersClient(options: { baseUrl: string; timeoutMs: number; ca?: Buffer }): IdentityUsersApi {
  const base = options.baseUrl.replace(/\/+$/, '');
  const dispatcher = new Agent({ connect: options.ca ? { ca: [...rootCertificates, options.ca.toString()], minVersion: 'TLSv1.2' } : {} });
  return {
    close: () => dispatcher.close(),
    findByUsername: (username, context) =>
      withSpan('GET', { kind: SpanKind.CLIENT, attributes: { 'http.request.method': 'GET', 'url.path': '/users' } }, async (span) => {
        let response;
        try {
          response = await fetch(`${base}/users?${new URLSearchParams({ username }).toString()}`, {
            headers: injectTraceHeaders({ authorization: context.authorization, 'x-request-id': context.requestId, accept: 'application/json' }),
            redirect: 'manual',
            dispatcher,
            signal: AbortSignal.timeout(options.timeoutMs),
          });
        } catch (error) {
          const name = (error as { name?: string } | null)?.name;
          if (name === 'TimeoutError' || name === 'AbortError') throw new IdentityTimeoutError('identity-service deadline exceeded');
          throw new IdentityUnavailableError('identity-service unreachable');
        }
        span.setAttribute('http.response.status_code', response.status);
        const text = await readBounded(response.body);
        if (response.status === 404) return undefined;
        if (response.status === 401 || response.status === 403) throw new IdentityForbiddenError(`identity-service answered ${response.status}`);
        if (response.status === 503) throw new IdentityUnavailableError('identity-service unavailable');
        let body: unknown;
        try {
          body = JSON.parse(text);
        } catch {
          body = undefined;
        }
        if (response.status !== 200 || !isUser(body)) throw new IdentityBadResponseError(`identity-service answered ${response.status}`);
        return { userId: body.userId, username: body.username, roles: body.roles };
      }),
  };
}
