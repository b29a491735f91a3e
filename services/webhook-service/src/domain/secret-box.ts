// Endpoint signing secrets: generated here, shown only to the caller (registration,
// rotation and their replays), stored only encrypted (AES-256-GCM, the endpoint id
// and version as associated data so a ciphertext cannot be moved to another row).
// The key comes from configuration (a file in production); nothing here logs a
// secret or the key.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

export const SECRET_PREFIX = 'whsec_';
const SECRET_BYTES = 32;
const KEY_BYTES = 32;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;

/** The key from its base64 text; throws a message that never contains the value. */
export function parseSecretKey(base64: string): Buffer {
  const text = base64.trim();
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(text)) throw new Error('must be base64 (of 32 random bytes)');
  const key = Buffer.from(text, 'base64');
  if (key.length !== KEY_BYTES) throw new Error(`must decode to ${KEY_BYTES} bytes, got ${key.length}`);
  return key;
}

/** "whsec_" + base64 of 32 random bytes (the Standard Webhooks secret format). */
export function generateSecret(): string {
  return SECRET_PREFIX + randomBytes(SECRET_BYTES).toString('base64');
}

/** The HMAC key of a secret: the bytes after the prefix. */
export function signingKey(secret: string): Buffer {
  return Buffer.from(secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret, 'base64');
}

/**
 * The associated data of a secret version: the endpoint id alone for version 1
 * (as stored before rotation existed), "<id>/v<version>" after, so a
 * ciphertext opens only as its own endpoint and version.
 */
export function secretAad(endpointId: string, version: number): Buffer {
  return Buffer.from(version === 1 ? endpointId : `${endpointId}/v${version}`);
}

export function encryptSecret(key: Buffer, endpointId: string, secret: string, version = 1): Buffer {
  const nonce = randomBytes(NONCE_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, nonce);
  cipher.setAAD(secretAad(endpointId, version));
  const body = Buffer.concat([cipher.update(secret, 'utf8'), cipher.final()]);
  return Buffer.concat([nonce, cipher.getAuthTag(), body]);
}

/** Throws if the ciphertext was altered, moved to another endpoint or version, or made with another key. */
export function decryptSecret(key: Buffer, endpointId: string, sealed: Buffer, version = 1): string {
  const nonce = sealed.subarray(0, NONCE_BYTES);
  const tag = sealed.subarray(NONCE_BYTES, NONCE_BYTES + TAG_BYTES);
  const decipher = createDecipheriv('aes-256-gcm', key, nonce);
  decipher.setAAD(secretAad(endpointId, version));
  decipher.setAuthTag(tag);
  return Buffer.concat([decipher.update(sealed.subarray(NONCE_BYTES + TAG_BYTES)), decipher.final()]).toString('utf8');
}
