// Who is calling: the end user's access token (metadata `authorization:
// Bearer ...`, forwarded by the gateway or the card adapter and verified here
// again, never trusted), or the card adapter's service credential (metadata
// `x-wallet-service-credential`) on DepositMoney / GetDeposit. Failures are
// domain errors (mapped once in errors.ts); nothing here ever logs or echoes
// a token or a credential.
import type { Metadata } from '@grpc/grpc-js';
import {
  AccessTokenError,
  credentialMatches,
  parseBearer,
  SERVICE_CREDENTIAL_METADATA_KEY,
  type Principal,
  type TokenVerifier,
} from '@wallet/platform/auth';
import { CallerUnauthenticatedError, IdentityUnavailableError } from '../domain/errors.js';

export const AUTHORIZATION_METADATA_KEY = 'authorization';

export interface CallerAuthenticator {
  /** The verified end user; throws CALLER_UNAUTHENTICATED or IDENTITY_UNAVAILABLE. */
  user(metadata: Metadata): Promise<Principal>;
  /** Passes only for the card adapter's credential; throws CALLER_UNAUTHENTICATED. */
  cardAdapter(metadata: Metadata): void;
}

/** String values only: a binary (-bin) or repeated value is not a credential. */
function singleString(metadata: Metadata, key: string): string | undefined | null {
  const values = metadata.get(key);
  if (values.length === 0) return undefined;
  return values.length === 1 && typeof values[0] === 'string' ? values[0] : null;
}

export function createCallerAuthenticator(options: { verifier: TokenVerifier; cardAdapterCredential: string }): CallerAuthenticator {
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
    cardAdapter(metadata) {
      const presented = singleString(metadata, SERVICE_CREDENTIAL_METADATA_KEY);
      if (!credentialMatches(presented ?? undefined, options.cardAdapterCredential)) {
        throw new CallerUnauthenticatedError(`only the card adapter may call this (metadata "${SERVICE_CREDENTIAL_METADATA_KEY}" missing or wrong)`);
      }
    },
  };
}
