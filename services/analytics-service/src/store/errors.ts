// What a ClickHouse/chDB failure means for the caller: retry later, or never.
//
// ClickHouse server errors carry a numeric code (as a string) on the client's
// error; transport failures (refused, reset, timed out) carry none or a Node
// code such as ECONNREFUSED. The tables below list the codes we know; an
// unknown server code is treated as `broken` (our query or schema is wrong),
// which is neither the caller's data nor a passing condition.

/** transient: retry with backoff; rejected: this data can never be stored; broken: a bug or schema mismatch. */
export type StoreFailure = 'transient' | 'rejected' | 'broken';

/** Passing conditions: overload, timeouts, memory pressure, merges behind, network. */
const TRANSIENT_CODES = new Set([
  '159', // TIMEOUT_EXCEEDED
  '160', // TOO_SLOW
  '164', // READONLY (replica switching)
  '202', // TOO_MANY_SIMULTANEOUS_QUERIES
  '203', // NO_FREE_CONNECTION
  '209', // SOCKET_TIMEOUT
  '210', // NETWORK_ERROR
  '236', // ABORTED
  '241', // MEMORY_LIMIT_EXCEEDED
  '242', // TABLE_IS_READ_ONLY
  '252', // TOO_MANY_PARTS
  '285', // TOO_FEW_LIVE_REPLICAS
  '319', // UNKNOWN_STATUS_OF_INSERT
  '394', // QUERY_WAS_CANCELLED
  '425', // SYSTEM_ERROR
  '439', // CANNOT_SCHEDULE_TASK
  '999', // KEEPER_EXCEPTION
]);

/** The rows themselves are unacceptable to the table: retrying the same rows cannot help. */
const REJECTED_CODES = new Set([
  '6', // CANNOT_PARSE_TEXT
  '26', // CANNOT_PARSE_QUOTED_STRING
  '27', // CANNOT_PARSE_INPUT_ASSERTION_FAILED
  '38', // CANNOT_PARSE_DATE
  '41', // CANNOT_PARSE_DATETIME
  '53', // TYPE_MISMATCH
  '69', // ARGUMENT_OUT_OF_BOUND
  '70', // CANNOT_CONVERT_TYPE
  '72', // CANNOT_PARSE_NUMBER
  '117', // INCORRECT_DATA
  '131', // TOO_LARGE_STRING_SIZE
  '321', // VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE
  '376', // CANNOT_PARSE_UUID
  '469', // VIOLATED_CONSTRAINT
  '691', // UNKNOWN_ELEMENT_OF_ENUM
]);

/** The ClickHouse error code of a failure, if the server (or chDB) gave one. */
export function clickHouseCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' && /^\d+$/.test(code) ? code : undefined;
}

export function classifyStoreFailure(error: unknown): StoreFailure {
  const code = clickHouseCode(error);
  if (code === undefined) return 'transient'; // no server answer: network, refused, client timeout
  if (TRANSIENT_CODES.has(code)) return 'transient';
  if (REJECTED_CODES.has(code)) return 'rejected';
  return 'broken';
}
