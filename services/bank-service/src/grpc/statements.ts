// Issue #15 RPCs of this feature. Owner: see /work/brief (replace the placeholders).
import type { BankServiceServer } from '@wallet/contracts/bank';
import type { BankServicerDeps, UnaryHandle } from './servicer.js';
import { status, type ServerWritableStream } from '@grpc/grpc-js';
import type { GetStatementRequest, GetStatementResponse } from '@wallet/contracts/bank';
import { unimplemented } from './unimplemented.js';

export function createStatementHandlers(_deps: BankServicerDeps & { handle: UnaryHandle }): Pick<BankServiceServer, 'getBalanceAt' | 'getStatement'> {
  return {
    getBalanceAt: unimplemented('GetBalanceAt'),
    getStatement(call: ServerWritableStream<GetStatementRequest, GetStatementResponse>) {
      call.destroy(Object.assign(new Error('GetStatement is not implemented yet'), { code: status.UNIMPLEMENTED }));
    },
  };
}
