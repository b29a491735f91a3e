// Which user a call is for: the end user's access token (metadata
// `authorization: Bearer ...`, forwarded by the gateway and verified here
// again, never trusted). Which *service* calls is decided before this, by its
// client certificate and the caller table (callers.ts, ADR 0009). Failures
// are domain errors (mapped once in errors.ts); nothing here ever logs or
// echoes a token.
import type { Metadata } from '@grpc/grpc-js';
import { AccessTokenError, parseBearer, type Principal, type TokenVerifier } from '@wallet/platform/auth';
import { CallerUnauthenticatedError, IdentityUnavailableError } from '../domain/errors.js';

export const AUTHORIZATION_METADATA_KEY = 'authorization';

export interface CallerAuthenticator {
  /** The verified end user; throws CALLER_UNAUTHENTICATED or IDENTITY_UNAVAILABLE. */
  user(metadata: Metadata): Promise<Principal>;
}

/** String values only: a binary (-bin) or repeated value is not a token. */
function singleString(metadata: Metadata, key: string): string | undefined | null {
  const values = metadata.get(key);
  if (values.length === 0) return undefined;
  return values.length === 1 && typeof values[0] === 'string' ? values[0] : null;
}

export function createCallerAuthenticator(options: { verifier: TokenVerifier }): CallerAuthenticator {
  return {
    async user(metadata) {
      const header = singleString(metadata, AUTHORIZATION_METADATA_KEY);
      const bearer = header === null ? ({ kind: 'malformed' } as const) : parseBearer(header);
      if (bearer.kind === 'missing') throw new CallerUnauthenticatedError('no access token (metadata "authorization: Bearer <token>")');
      if (bearer.kind === 'malformed') throw new CallerUnauthenticatedError('the authorization metadata is not "Bearer <JWT>"');
      try {
        return await options.verifier.verify(bearer.token);
      } catch (error) {
        if (error instanceof AccessTokenError) {
          if (error.code === 'unavailable') throw new IdentityUnavailableError({ cause: error });
          throw new CallerUnauthenticatedError(error.description);
        }
        throw error;
      }
    },
  };
}
