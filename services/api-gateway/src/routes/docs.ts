import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import type { OpenApiSpec } from '../openapi/spec.js';

/**
 * The contract itself at /openapi.yaml (byte for byte) and Swagger UI at
 * /docs. @fastify/swagger runs in static mode: it serves openapi.yaml as
 * written instead of generating a document from the routes.
 */
export async function registerDocsRoutes(app: FastifyInstance, spec: OpenApiSpec): Promise<void> {
  app.get('/openapi.yaml', async (_request, reply) => reply.type('application/yaml; charset=utf-8').send(spec.text));
  await app.register(swagger, { mode: 'static', specification: { document: spec.raw as never } });
  await app.register(swaggerUi, { routePrefix: '/docs' });
}
