// GetBalanceAt and GetStatement (ADR 0020). The statement is a server stream:
// header, chunks of entries, footer, written at the reader's pace (each write
// waits for 'drain' when grpc-js's buffer is full, bounded by writeWaitMsMax),
// so the bank never holds more than a few chunks whatever the range.
import type { sendUnaryData, ServerUnaryCall, ServerWritableStream, ServiceError } from '@grpc/grpc-js';
import type {
  BankServiceServer,
  GetBalanceAtRequest,
  GetBalanceAtResponse,
  GetStatementRequest,
  GetStatementResponse,
  StatementEntry,
} from '@wallet/contracts/bank';
import { BankError } from '../domain/errors.js';
import { StatementReaderTooSlowError, type StatementLine } from '../domain/statements.js';
import { STATEMENT_DEFAULTS, StatementUseCase, type StatementPart, type StatementSettings } from '../app/statements.js';
import type { OperationLimits } from '../app/operations.js';
import { outcomeOf, toGrpcError } from './errors.js';
import type { BankServicerDeps, UnaryHandle } from './servicer.js';

export function statementSettings(limits: OperationLimits): StatementSettings {
  return {
    chunkSizeMax: limits.statementChunkSizeMax ?? STATEMENT_DEFAULTS.chunkSizeMax,
    entriesMax: limits.statementEntriesMax ?? STATEMENT_DEFAULTS.entriesMax,
    concurrencyMax: limits.statementConcurrencyMax ?? STATEMENT_DEFAULTS.concurrencyMax,
    writeWaitMsMax: limits.statementWriteWaitMsMax ?? STATEMENT_DEFAULTS.writeWaitMsMax,
  };
}

function entryToProto(line: StatementLine): StatementEntry {
  return {
    entryId: line.entryId,
    createdAt: line.createdAt,
    entryType: line.entryType,
    amountMinor: line.amountMinor,
    balanceAfterMinor: line.balanceAfterMinor,
    referenceId: line.referenceId,
    counterpartyAccountId: line.counterpartyAccountId,
    description: line.description,
  };
}

export function partToProto(part: StatementPart): GetStatementResponse {
  switch (part.kind) {
    case 'header':
      return {
        part: {
          $case: 'header',
          value: {
            accountId: part.accountId,
            currency: part.currency,
            from: part.from,
            to: part.to,
            openingBalance: { amountMinor: part.openingMinor, currencyCode: part.currency },
          },
        },
      };
    case 'entries':
      return { part: { $case: 'entries', value: { entries: part.entries.map(entryToProto) } } };
    case 'footer': {
      const money = (amountMinor: bigint) => ({ amountMinor, currencyCode: part.currency });
      const { totals } = part;
      return {
        part: {
          $case: 'footer',
          value: {
            closingBalance: money(totals.closingMinor),
            totalIn: money(totals.totalInMinor),
            totalOut: money(totals.totalOutMinor),
            entryCount: BigInt(totals.entryCount),
          },
        },
      };
    }
  }
}

/** Resolves when grpc-js takes more (at once if its buffer has room); rejects on a stalled or vanished reader. */
function written(call: ServerWritableStream<GetStatementRequest, GetStatementResponse>, message: GetStatementResponse, waitMsMax: number): Promise<void> {
  if (call.write(message)) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const done = (error?: Error) => {
      clearTimeout(timer);
      call.removeListener('drain', onDrain);
      call.removeListener('cancelled', onCancelled);
      if (error) reject(error);
      else resolve();
    };
    const onDrain = () => done();
    const onCancelled = () => done(new Error('cancelled by the reader'));
    const timer = setTimeout(() => done(new StatementReaderTooSlowError(waitMsMax)), waitMsMax);
    call.once('drain', onDrain);
    call.once('cancelled', onCancelled);
  });
}

export function createStatementHandlers(deps: BankServicerDeps & { handle: UnaryHandle }): Pick<BankServiceServer, 'getBalanceAt' | 'getStatement'> {
  const { operations, callers, handle, logger, metrics } = deps;
  const settings = statementSettings(operations.context.limits);
  const statements = new StatementUseCase(operations.context, settings);

  async function stream(call: ServerWritableStream<GetStatementRequest, GetStatementResponse>): Promise<string> {
    const caller = await callers.user(call.metadata);
    const parts = statements.statement(call.request, caller);
    try {
      for await (const part of parts) {
        if (call.cancelled) return 'cancelled';
        await written(call, partToProto(part), settings.writeWaitMsMax);
      }
    } finally {
      // Ends the snapshot and gives the connection back also when the loop left early.
      await parts.return(undefined);
    }
    call.end();
    return 'ok';
  }

  return {
    getBalanceAt(call: ServerUnaryCall<GetBalanceAtRequest, GetBalanceAtResponse>, callback: sendUnaryData<GetBalanceAtResponse>) {
      handle('GetBalanceAt', call, callback, async (request) => {
        const caller = await callers.user(call.metadata);
        const result = await statements.getBalanceAt(request, caller);
        return {
          response: {
            accountId: result.accountId,
            balance: { amountMinor: result.balanceMinor, currencyCode: result.currency },
            at: result.at,
            lastEntryId: result.lastEntryId,
          },
          outcome: 'ok',
        };
      });
    },
    getStatement(call: ServerWritableStream<GetStatementRequest, GetStatementResponse>) {
      stream(call).then(
        (outcome) => metrics.outcome('GetStatement', outcome),
        (error: unknown) => {
          metrics.outcome('GetStatement', outcomeOf(error));
          if (error instanceof BankError) logger.debug({ method: 'GetStatement', reason: error.reason }, error.message);
          else if (!call.cancelled) logger.error({ err: error, method: 'GetStatement' }, 'unexpected error');
          if (!call.cancelled) call.emit('error', toGrpcError(error) as ServiceError);
        },
      );
    },
  };
}
