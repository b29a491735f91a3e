/** Bearer tokens (RFC 6750) from an Authorization header or gRPC metadata value. */

/** A JWS compact serialisation: three base64url parts; bounded so a huge header costs nothing. */
const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;
export const BEARER_TOKEN_LENGTH_MAX = 8192;

export type BearerParse = { kind: 'missing' } | { kind: 'malformed' } | { kind: 'token'; token: string };

export function parseBearer(header: string | readonly string[] | undefined): BearerParse {
  if (header === undefined || header.length === 0) return { kind: 'missing' };
  if (typeof header !== 'string') return header.length === 1 ? parseBearer(header[0]) : { kind: 'malformed' };
  const match = /^Bearer +(\S+) *$/i.exec(header);
  if (match === null) return { kind: 'malformed' };
  const token = match[1] as string;
  if (token.length > BEARER_TOKEN_LENGTH_MAX || !JWT_SHAPE.test(token)) return { kind: 'malformed' };
  return { kind: 'token', token };
}
