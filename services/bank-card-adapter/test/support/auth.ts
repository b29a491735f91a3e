// Callers for the adapter's tests: one loopback token issuer per test file
// (the root test/support/test-issuer.ts: discovery, JWKS, ES256), the dev
// users of the design. The adapter's identity at the bank is its certificate (test/support/pki.ts).
import { startTestIssuer, type TestIssuer } from '../../../../test/support/test-issuer.js';

/** The design's dev users; alice owns the seed account the harness tops up. */
export const ALICE = '11111111-1111-4111-8111-111111111111';
export const BOB = '22222222-2222-4222-8222-222222222222';
export const SUPPORT = '33333333-3333-4333-8333-333333333333';
export const ADMIN = '44444444-4444-4444-8444-444444444444';

let issuer: Promise<TestIssuer> | undefined;

/** The file's issuer, started on first use; closeTestIssuer() in afterAll. */
export function testIssuer(): Promise<TestIssuer> {
  issuer ??= startTestIssuer();
  return issuer;
}

export async function closeTestIssuer(): Promise<void> {
  const started = issuer;
  issuer = undefined;
  await (await started)?.close();
}

/** `Bearer <token>` for the user (alice, a customer, by default). */
export async function bearer(subject = ALICE, roles?: readonly string[]): Promise<string> {
  return (await testIssuer()).bearer(subject, roles);
}

/** AUTH_ISSUER / AUTH_AUDIENCE of the file's issuer, for a service's environment. */
export async function authEnv(): Promise<Record<string, string>> {
  const { issuer: iss, audience } = await testIssuer();
  return { AUTH_ISSUER: iss, AUTH_AUDIENCE: audience };
}
