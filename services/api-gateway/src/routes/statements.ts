import { Readable } from 'node:stream';
import type { GetStatementResponse } from '@wallet/contracts/bank';
import { parseGrpcError } from '@wallet/platform';
import type { FastifyInstance } from 'fastify';
import { canonicalUuid, UnexpectedUpstreamResponseError } from '../mapping/common.js';
import { statementPdf } from '../mapping/statement-pdf.js';
import {
  checkStatementSpan,
  fromStatementHeader,
  statementBody,
  statementCsv,
  statementFileName,
  statementJson,
  statementTooLarge,
  STATEMENT_MEDIA_TYPES,
  type StatementFormat,
} from '../mapping/statements.js';
import { checkOrder, toDate } from '../mapping/time-range.js';
import { callContextOf } from '../plugins/auth.js';
import { operationRoute } from '../plugins/openapi-validation.js';
import type { RouteDeps } from './deps.js';

// GET /accounts/{id}/statement (ADR 0020): the bank's statement stream,
// re-encoded as JSON, CSV or PDF while it arrives. Everything that can fail
// before the first byte (range, access, size) is checked first, so those
// failures are ordinary problem+json answers; a failure after the first byte
// cuts the response (no terminating chunk), which every HTTP client reports.

interface StatementQuery {
  from: string;
  to?: string;
  format: StatementFormat;
}

/** The bank's refusal of a range holding more than entries_max, as the 422 the contract names. */
function beforeStreamError(error: unknown, entriesMax: number): unknown {
  const parsed = parseGrpcError(error);
  return parsed.reason === 'INVALID_ARGUMENT' && parsed.metadata.entries_max !== undefined ? statementTooLarge(entriesMax) : error;
}

export function registerStatementRoutes(app: FastifyInstance, { spec, clients, config }: RouteDeps): void {
  app.route({
    ...operationRoute(spec.operation('getStatement')),
    handler: async (request, reply) => {
      const { accountId } = request.params as { accountId: string };
      const query = request.query as StatementQuery;
      const from = toDate(query.from, 'query.from');
      const to = query.to === undefined ? new Date() : toDate(query.to, 'query.to');
      checkOrder(from, to);
      checkStatementSpan(from, to, config.GATEWAY_STATEMENT_RANGE_DAYS_MAX);
      const entriesMax = config.GATEWAY_STATEMENT_ENTRIES_MAX;
      const stream = clients.bank.getStatement({ accountId: canonicalUuid(accountId), from, to, entriesMax }, callContextOf(request));
      const parts: AsyncIterator<GetStatementResponse> = stream[Symbol.asyncIterator]();
      let first: IteratorResult<GetStatementResponse>;
      try {
        first = await parts.next();
      } catch (error) {
        throw beforeStreamError(error, entriesMax);
      }
      const headerPart = first.done ? undefined : first.value.part;
      if (headerPart?.$case !== 'header') {
        stream.cancel();
        throw new UnexpectedUpstreamResponseError('GetStatement: the stream did not start with its header');
      }
      const header = fromStatementHeader(headerPart.value);
      const body = statementBody(parts);
      // The reader went away: stop the bank's stream (it gives its snapshot and connection back).
      reply.raw.once('close', () => {
        if (!reply.raw.writableFinished) stream.cancel();
      });
      const content =
        query.format === 'pdf' ? statementPdf(header, body) : Readable.from(query.format === 'csv' ? statementCsv(header, body) : statementJson(header, body));
      content.once('error', (error) => request.log.warn({ err: error, accountId: header.accountId }, 'statement stream failed after its first byte; the response was cut'));
      void reply.type(STATEMENT_MEDIA_TYPES[query.format]);
      if (query.format !== 'json') void reply.header('content-disposition', `attachment; filename="${statementFileName(header, query.format)}"`);
      return reply.send(content);
    },
  });
}
