// User identities for the bank's tests: a loopback token issuer (real
// discovery + JWKS + ES256, test/support/test-issuer.ts at the repo root) for
// gRPC tests, gRPC metadata for a user or role, and plain principals for tests
// that call the use cases directly. The calling *service* is the client
// certificate (helpers.ts bankClient, test/support/pki.ts).
import type { Principal, Role } from '@wallet/platform/auth';
import { startTestIssuer, type TestIssuer } from '../../../../test/support/test-issuer.js';

/** The identity-service's development users (docs: identity design); the seed migration gives alice and bob their accounts. */
export const ALICE_USER = '11111111-1111-4111-8111-111111111111';
export const BOB_USER = '22222222-2222-4222-8222-222222222222';
export const SUPPORT_USER = '33333333-3333-4333-8333-333333333333';
export const ADMIN_USER = '44444444-4444-4444-8444-444444444444';

/** The user a test deposit is made for (DepositMoneyRequest.initiated_by). */
export const DEPOSITOR = ALICE_USER;

export function principal(subject: string, roles: readonly Role[] = ['customer']): Principal {
  return { subject, roles, expiresAtSeconds: Math.floor(Date.now() / 1000) + 300 };
}

/** Admin may move money from any account: use-case tests that are not about access use it. */
export const ADMIN: Principal = principal(ADMIN_USER, ['admin']);

export interface TestCallers {
  issuer: TestIssuer;
  /** AUTH_ISSUER / AUTH_AUDIENCE pointing the bank at the test issuer (for testConfig). */
  env: Record<string, string>;
  /** Metadata `authorization: Bearer <token>` for a user with the given roles (customer by default). */
  as(subject: string, roles?: readonly Role[]): Promise<{ authorization: string }>;
  /** Admin metadata (cached token: valid 5 minutes). */
  admin(): Promise<{ authorization: string }>;
  close(): Promise<void>;
}

export async function startTestCallers(): Promise<TestCallers> {
  const issuer = await startTestIssuer();
  let adminToken: Promise<string> | undefined;
  return {
    issuer,
    env: { AUTH_ISSUER: issuer.issuer, AUTH_AUDIENCE: issuer.audience },
    as: async (subject, roles = ['customer']) => ({ authorization: await issuer.bearer(subject, roles) }),
    admin: async () => ({ authorization: await (adminToken ??= issuer.sign({ sub: ADMIN_USER, roles: ['admin'], expiresInSeconds: 600 }).then((t) => `Bearer ${t}`)) }),
    close: () => issuer.close(),
  };
}
