import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import type { OpenApiSpec } from '../openapi/spec.js';
import { DOCS_CSP } from '../plugins/security-headers.js';

/** The first-party public client Swagger UI logs in as (the identity-service's IDENTITY_PUBLIC_CLIENT_IDS). */
export const SWAGGER_UI_CLIENT_ID = 'swagger-ui';

/**
 * Runs in the browser (serialised into Swagger UI's initializer, so it must be
 * self-contained). Swagger UI's password flow sends the client as HTTP
 * Basic by default, with an empty secret for a public client; a public client
 * does not authenticate (RFC 6749 section 2.1), so such a header is turned
 * into a plain `client_id` form field, which the token endpoint accepts.
 */
export function swaggerTokenRequestInterceptor(req: { url: string; headers?: Record<string, string>; body?: unknown }) {
  const auth = req.headers ? req.headers.Authorization || req.headers.authorization : undefined;
  if (/\/auth\/token$/.test(req.url) && typeof auth === 'string' && /^Basic /.test(auth) && typeof req.body === 'string') {
    const decoded = atob(auth.slice(6));
    const colon = decoded.indexOf(':');
    if (colon >= 0 && colon === decoded.length - 1) {
      delete req.headers!.Authorization;
      delete req.headers!.authorization;
      if (colon > 0 && !/(^|&)client_id=/.test(req.body)) req.body = req.body + '&client_id=' + encodeURIComponent(decoded.slice(0, colon));
    }
  }
  return req;
}

/**
 * The contract itself at /openapi.yaml (byte for byte) and Swagger UI at
 * /docs. @fastify/swagger runs in static mode: it serves openapi.yaml as
 * written instead of generating a document from the routes. "Authorize" uses
 * the OAuth 2.0 password flow of the document (tokenUrl /auth/token, through
 * this gateway) and keeps the token across reloads.
 */
export async function registerDocsRoutes(app: FastifyInstance, spec: OpenApiSpec): Promise<void> {
  app.get('/openapi.yaml', async (_request, reply) => reply.type('application/yaml; charset=utf-8').send(spec.text));
  await app.register(swagger, { mode: 'static', specification: { document: spec.raw as never } });
  await app.register(swaggerUi, {
    routePrefix: '/docs',
    // Its own CSP on the /docs routes, replacing the API's deny-all policy (plugins/security-headers.ts).
    staticCSP: DOCS_CSP,
    uiConfig: { persistAuthorization: true, requestInterceptor: swaggerTokenRequestInterceptor } as never,
    initOAuth: { clientId: SWAGGER_UI_CLIENT_ID, appName: 'E-Wallet API' },
  });
}
