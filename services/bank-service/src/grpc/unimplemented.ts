// Placeholder answer for an RPC whose feature is not built yet: UNIMPLEMENTED,
// the gRPC code for "this server does not do that". Removed feature by feature.
import { status, type sendUnaryData, type ServiceError } from '@grpc/grpc-js';

export function unimplemented(method: string) {
  return (_call: unknown, callback: sendUnaryData<never>): void => {
    callback({ code: status.UNIMPLEMENTED, details: `${method} is not implemented yet`, message: `${method} is not implemented yet` } as ServiceError);
  };
}
