// Holds (issue #15 F1, ADR 0015): the bank decides who may (sender's owner or
// admin to create, capture and void; both owners, support and admin to read)
// and which of capture, void and expiry wins.
import type { FastifyInstance } from 'fastify';
import { fromCaptureHoldResponse, fromHold, toCaptureHoldRequest, toCreateHoldRequest, type CaptureHoldBody, type HoldRequestBody } from '../mapping/holds.js';
import { canonicalUuid } from '../mapping/common.js';
import { IDEMPOTENT_REPLAYED_HEADER } from '../plugins/errors.js';
import { callContextOf } from '../plugins/auth.js';
import { operationRoute } from '../plugins/openapi-validation.js';
import type { RouteDeps } from './deps.js';

export function registerHoldRoutes(app: FastifyInstance, { spec, clients, config }: RouteDeps): void {
  app.route({
    ...operationRoute(spec.operation('createHold')),
    handler: async (request, reply) => {
      const { accountId } = request.params as { accountId: string };
      const idempotencyKey = request.headers['idempotency-key'] as string;
      const grpcRequest = toCreateHoldRequest(accountId, request.body as HoldRequestBody, idempotencyKey, config.GATEWAY_CURRENCY);
      const response = await clients.bank.createHold(grpcRequest, callContextOf(request));
      if (response.replayed) reply.header(IDEMPOTENT_REPLAYED_HEADER, 'true');
      return reply.code(201).send(fromHold(response.hold, 'CreateHold'));
    },
  });
  app.route({
    ...operationRoute(spec.operation('captureHold')),
    handler: async (request, reply) => {
      const { holdId } = request.params as { holdId: string };
      const grpcRequest = toCaptureHoldRequest(holdId, request.body as CaptureHoldBody | undefined, config.GATEWAY_CURRENCY);
      const { hold, transfer, replayed } = fromCaptureHoldResponse(await clients.bank.captureHold(grpcRequest, callContextOf(request)));
      if (replayed) reply.header(IDEMPOTENT_REPLAYED_HEADER, 'true');
      return reply.code(200).send({ hold, transfer });
    },
  });
  app.route({
    ...operationRoute(spec.operation('voidHold')),
    handler: async (request, reply) => {
      const { holdId } = request.params as { holdId: string };
      const response = await clients.bank.voidHold({ holdId: canonicalUuid(holdId) }, callContextOf(request));
      if (response.replayed) reply.header(IDEMPOTENT_REPLAYED_HEADER, 'true');
      return reply.code(200).send(fromHold(response.hold, 'VoidHold'));
    },
  });
  app.route({
    ...operationRoute(spec.operation('getHold')),
    handler: async (request, reply) => {
      const { holdId } = request.params as { holdId: string };
      const response = await clients.bank.getHold({ holdId: canonicalUuid(holdId) }, callContextOf(request));
      return reply.code(200).send(fromHold(response.hold, 'GetHold'));
    },
  });
}
