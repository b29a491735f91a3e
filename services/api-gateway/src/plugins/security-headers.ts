import cors from '@fastify/cors';
import type { FastifyInstance } from 'fastify';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';

type HelmetMiddleware = (req: IncomingMessage, res: ServerResponse, next: (error?: unknown) => void) => void;
type Helmet = (options: Record<string, unknown>) => HelmetMiddleware;

// helmet itself, the version @fastify/helmet (pinned) depends on and its tests cover: the plugin
// rebuilt helmet's whole middleware chain on every request (~3 % of the gateway's CPU per transfer,
// issue 14), while the headers only depend on the options.
const requireFromPlugin = createRequire(createRequire(import.meta.url).resolve('@fastify/helmet'));
const helmet = requireFromPlugin('helmet') as Helmet;

/**
 * CSP of every API answer: JSON and problem documents load nothing and are
 * framed nowhere, so nothing is allowed.
 */
export const API_CSP_DIRECTIVES = {
  defaultSrc: ["'none'"],
  baseUri: ["'none'"],
  formAction: ["'none'"],
  frameAncestors: ["'none'"],
};

/**
 * CSP of Swagger UI (/docs): its page loads only its own scripts and styles
 * from /docs/static (no inline script: @fastify/swagger-ui's index has none),
 * images and fonts from itself or data: URIs, and calls the API (Try it out,
 * Authorize with the password flow) on the same origin. Set by swagger-ui's
 * `staticCSP` on the /docs routes only, replacing the API's policy there.
 * No upgrade-insecure-requests: `npm start` serves plain http on localhost.
 */
export const DOCS_CSP = [
  "default-src 'self'",
  "base-uri 'self'",
  "connect-src 'self'",
  "font-src 'self' data:",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "img-src 'self' data:",
  "object-src 'none'",
  "script-src 'self'",
  "script-src-attr 'none'",
  "style-src 'self'",
].join('; ');

/** Headers of a rate-limited route a browser may read (plugins/rate-limit.ts). */
const RATE_LIMIT_HEADERS = ['RateLimit-Limit', 'RateLimit-Remaining', 'RateLimit-Reset'];

export interface SecurityHeadersOptions {
  /** Exact allowed origins, or ['*'] (development only; config refuses it in production); [] = none. */
  corsOrigins: string[];
  /** Response headers a browser may read cross-origin. */
  exposedHeaders: string[];
}

/**
 * Helmet's security headers and CORS on every response, errors included.
 * Must be installed before any hook that can refuse a request (authentication,
 * rate limits): hooks run in order, so a 401 or 429 still carries both.
 */
export async function installSecurityHeaders(app: FastifyInstance, options: SecurityHeadersOptions): Promise<void> {
  const headers = helmetHeaders({ contentSecurityPolicy: { useDefaults: false, directives: API_CSP_DIRECTIVES } });
  // On the raw response, as helmet does: a route's own reply.header (Swagger UI's CSP) still wins.
  app.addHook('onRequest', (_request, reply, done) => {
    for (const [name, value] of headers) reply.raw.setHeader(name, value);
    done();
  });
  const { corsOrigins } = options;
  await app.register(cors, {
    // An exact list: an Origin outside it gets no Access-Control-Allow-Origin at all.
    origin: corsOrigins.includes('*') ? '*' : corsOrigins,
    methods: ['GET', 'HEAD', 'POST', 'OPTIONS'],
    exposedHeaders: [...options.exposedHeaders, ...RATE_LIMIT_HEADERS],
    maxAge: 600,
  });
}

/**
 * The headers helmet sets for these options, computed once: they depend on
 * nothing in the request (no CSP nonces here).
 */
export function helmetHeaders(options: Record<string, unknown>): ReadonlyArray<readonly [string, string]> {
  const headers: Array<readonly [string, string]> = [];
  const recorder = {
    setHeader: (name: string, value: unknown) => headers.push([name, String(value)]),
    removeHeader: () => undefined,
  };
  let failure: unknown;
  helmet(options)({} as IncomingMessage, recorder as unknown as ServerResponse, (error) => {
    failure = error;
  });
  if (failure !== undefined) throw failure;
  return headers;
}
