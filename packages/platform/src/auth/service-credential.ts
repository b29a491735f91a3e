import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * A shared service credential (until mutual TLS replaces it): compared in
 * constant time over digests, so neither the content nor the length leaks
 * through timing.
 */
export function credentialMatches(presented: string | undefined, expected: string): boolean {
  if (presented === undefined || presented.length === 0 || expected.length === 0) return false;
  const digest = (value: string): Buffer => createHash('sha256').update(value, 'utf8').digest();
  return timingSafeEqual(digest(presented), digest(expected));
}

/** gRPC metadata key carrying the service credential. */
export const SERVICE_CREDENTIAL_METADATA_KEY = 'x-wallet-service-credential';
