// Private signing keys at rest: AES-256-GCM under a key derived from the
// configured secret. Layout: version(1) | iv(12) | tag(16) | ciphertext.
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';

const VERSION = 1;

function derive(secret: string): Buffer {
  return Buffer.from(hkdfSync('sha256', secret, 'wallet-identity', 'signing-key-encryption', 32));
}

export function encryptPrivateKey(plaintext: string, secret: string): Buffer {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', derive(secret), iv);
  const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return Buffer.concat([Buffer.from([VERSION]), iv, cipher.getAuthTag(), body]);
}

/** Throws when the secret is wrong or the blob was altered (GCM authentication). */
export function decryptPrivateKey(blob: Buffer, secret: string): string {
  if (blob[0] !== VERSION || blob.length < 30) throw new Error('unknown private key encryption format');
  const decipher = createDecipheriv('aes-256-gcm', derive(secret), blob.subarray(1, 13));
  decipher.setAuthTag(blob.subarray(13, 29));
  return Buffer.concat([decipher.update(blob.subarray(29)), decipher.final()]).toString('utf8');
}
