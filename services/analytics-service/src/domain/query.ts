// Validation of history and summary requests, in domain terms (no protobuf).
import { decodeCursor, type CursorPosition, type OperationsFilter } from './cursor.js';
import { InvalidArgumentError } from './errors.js';
import { OPERATION_TYPES, type OperationTypeName } from './operation.js';
import { MAX_MICROS, MIN_MICROS } from './time.js';

export const PAGE_SIZE_DEFAULT = 20;
export const PAGE_SIZE_MAX = 100;
/** Longest page token accepted before any decoding (the REST contract allows 512). */
export const PAGE_TOKEN_LENGTH_MAX = 512;

const UUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

export function normalizeAccountId(accountId: string, field = 'account_id'): string {
  if (!UUID.test(accountId)) throw new InvalidArgumentError(field, 'must be a UUID');
  return accountId.toLowerCase();
}

export interface OperationsQueryInput {
  accountId: string;
  /** 0 means the default. */
  pageSize: number;
  /** Empty for the first page. */
  pageToken: string;
  /** Empty means all; unknown names are rejected. */
  types: readonly string[];
  fromMicros?: bigint;
  toMicros?: bigint;
}

export interface OperationsQuery {
  filter: OperationsFilter;
  pageSize: number;
  /** Rows strictly older than this position (in (created_at, event_id) DESC order). */
  after?: CursorPosition;
}

export function normalizeOperationsQuery(input: OperationsQueryInput): OperationsQuery {
  const accountId = normalizeAccountId(input.accountId);
  if (!Number.isInteger(input.pageSize) || input.pageSize < 0 || input.pageSize > PAGE_SIZE_MAX) {
    throw new InvalidArgumentError('page_size', `must be between 1 and ${PAGE_SIZE_MAX} (0 for the default ${PAGE_SIZE_DEFAULT})`);
  }
  const types = new Set<OperationTypeName>();
  for (const type of input.types) {
    if (!(OPERATION_TYPES as readonly string[]).includes(type)) {
      throw new InvalidArgumentError('types', `unknown operation type ${JSON.stringify(type)}`);
    }
    types.add(type as OperationTypeName);
  }
  checkRange(input.fromMicros, input.toMicros, false);
  const filter: OperationsFilter = { accountId, types: [...types].sort() };
  if (input.fromMicros !== undefined) filter.fromMicros = input.fromMicros;
  if (input.toMicros !== undefined) filter.toMicros = input.toMicros;
  const query: OperationsQuery = { filter, pageSize: input.pageSize === 0 ? PAGE_SIZE_DEFAULT : input.pageSize };
  if (input.pageToken !== '') {
    if (input.pageToken.length > PAGE_TOKEN_LENGTH_MAX) throw new InvalidArgumentError('page_token', 'too long');
    query.after = decodeCursor(input.pageToken, filter);
  }
  return query;
}

/** Both bounds inside the storable range and from < to when both are given. */
export function checkRange(fromMicros: bigint | undefined, toMicros: bigint | undefined, required: boolean): void {
  if (required && fromMicros === undefined) throw new InvalidArgumentError('from_time', 'is required');
  if (required && toMicros === undefined) throw new InvalidArgumentError('to_time', 'is required');
  for (const [field, value] of [
    ['from_time', fromMicros],
    ['to_time', toMicros],
  ] as const) {
    if (value !== undefined && (value < MIN_MICROS || value > MAX_MICROS + 1n)) {
      throw new InvalidArgumentError(field, 'must be between 1970-01-01 and 2200-01-01');
    }
  }
  if (fromMicros !== undefined && toMicros !== undefined && fromMicros >= toMicros) {
    throw new InvalidArgumentError('to_time', 'must be after from_time');
  }
}
