// Fake gRPC servers implement the RPCs their test needs; every other RPC of the
// service answers UNIMPLEMENTED (code 12), so a new RPC in a contract does not
// break every fake, and a test that reaches one fails loudly.
const UNIMPLEMENTED = 12;

interface MethodDefinitionLike {
  path: string;
  responseStream: boolean;
}

interface CallLike {
  destroy?(error: Error): void;
}

/** Handlers answering UNIMPLEMENTED for every method of a grpc-js service definition. */
export function unimplementedHandlers<Server>(definition: Record<string, MethodDefinitionLike>): Server {
  const handlers: Record<string, unknown> = {};
  for (const [name, method] of Object.entries(definition)) {
    const error = Object.assign(new Error(`${method.path} is not implemented by this fake`), { code: UNIMPLEMENTED, details: `${method.path} is not implemented by this fake` });
    handlers[name] = method.responseStream
      ? (call: CallLike) => call.destroy?.(error)
      : (_call: unknown, callback: (error: unknown) => void) => callback(error);
  }
  return handlers as Server;
}
