import { classifyDbError } from '@wallet/platform/db';
import { StorageUnavailableError } from '../domain/errors.js';

/** Maps infrastructure failures to the domain's StorageUnavailableError; other errors pass through. */
export function toStorageError(error: unknown): unknown {
  if (error instanceof StorageUnavailableError) return error;
  const failure = classifyDbError(error);
  return failure ? new StorageUnavailableError(failure, { cause: error }) : error;
}
