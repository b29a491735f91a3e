// Opaque keyset cursor for the operation history. Newest first means the
// order is (created_at DESC, event_id DESC); a cursor is the position of the
// last row of a page, so the next page starts strictly after it. Rows inserted
// meanwhile never shift it: no gaps, no repeats.
//
// Layout (37 bytes, base64url, 50 characters):
//   [0]      version (1)
//   [1..8]   created_at, microseconds since epoch, int64 big-endian
//   [9..24]  event_id, the 16 UUID bytes
//   [25..36] first 12 bytes of SHA-256(version | position | canonical filters)
// The hash binds the cursor to the query it came from (account, types, time
// range), so a cursor replayed with other filters, or altered in any byte, is
// rejected. It needs no secret: a client that forges a valid cursor can only
// start its own listing at a position of its choosing, which it may anyway
// with from/to.
import { createHash } from 'node:crypto';
import { InvalidCursorError } from './errors.js';
import type { OperationTypeName } from './operation.js';

const VERSION = 1;
const HASH_BYTES = 12;
const TOKEN_BYTES = 1 + 8 + 16 + HASH_BYTES;
const TOKEN_PATTERN = /^[A-Za-z0-9_-]{50}$/;

export interface CursorPosition {
  createdAtMicros: bigint;
  eventId: string;
}

export interface OperationsFilter {
  accountId: string;
  /** Sorted, unique; empty means all types. */
  types: OperationTypeName[];
  fromMicros?: bigint;
  toMicros?: bigint;
}

function canonicalFilter(filter: OperationsFilter): string {
  return JSON.stringify([
    filter.accountId.toLowerCase(),
    [...filter.types].sort(),
    filter.fromMicros?.toString() ?? '',
    filter.toMicros?.toString() ?? '',
  ]);
}

function digest(head: Buffer, filter: OperationsFilter): Buffer {
  return createHash('sha256').update(head).update(canonicalFilter(filter)).digest().subarray(0, HASH_BYTES);
}

function uuidToBytes(uuid: string): Buffer {
  const hex = uuid.replace(/-/g, '');
  if (!/^[0-9a-fA-F]{32}$/.test(hex)) throw new Error(`not a UUID: ${uuid}`);
  return Buffer.from(hex, 'hex');
}

function bytesToUuid(bytes: Buffer): string {
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

export function encodeCursor(position: CursorPosition, filter: OperationsFilter): string {
  const head = Buffer.alloc(1 + 8 + 16);
  head.writeUInt8(VERSION, 0);
  head.writeBigInt64BE(position.createdAtMicros, 1);
  uuidToBytes(position.eventId).copy(head, 9);
  return Buffer.concat([head, digest(head, filter)]).toString('base64url');
}

/** Decodes a cursor issued for exactly these filters; anything else is an InvalidCursorError. */
export function decodeCursor(token: string, filter: OperationsFilter): CursorPosition {
  if (!TOKEN_PATTERN.test(token)) throw new InvalidCursorError('malformed');
  const bytes = Buffer.from(token, 'base64url');
  // base64url decoding is lenient about the last character's spare bits: insist on the canonical form.
  if (bytes.length !== TOKEN_BYTES || bytes.toString('base64url') !== token) throw new InvalidCursorError('malformed');
  if (bytes.readUInt8(0) !== VERSION) throw new InvalidCursorError('unknown version');
  const head = bytes.subarray(0, 25);
  const expected = digest(head, filter);
  if (!expected.equals(bytes.subarray(25))) throw new InvalidCursorError('issued for other filters or altered');
  return { createdAtMicros: bytes.readBigInt64BE(1), eventId: bytesToUuid(bytes.subarray(9, 25)) };
}
