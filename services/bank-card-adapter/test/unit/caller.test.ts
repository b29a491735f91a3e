import { status as Status } from '@grpc/grpc-js';
import { AccessTokenError, type Principal, type TokenVerifier } from '@wallet/platform/auth';
import { parseGrpcError } from '@wallet/platform';
import { describe, expect, it } from 'vitest';
import { assertMayTopUp, authenticate, maySeeTopUp } from '../../src/app/caller.js';
import { DependencyUnavailable, TopUpFailure } from '../../src/domain/failures.js';
import { toServiceError } from '../../src/grpc/errors.js';

const TOKEN = 'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhIn0.c2ln';

function principal(subject: string, roles: Principal['roles'] = ['customer']): Principal {
  return { subject, roles, expiresAtSeconds: 2_000_000_000 };
}

function verifier(result: Principal | Error): TokenVerifier {
  return { verify: () => (result instanceof Error ? Promise.reject(result) : Promise.resolve(result)) };
}

async function failureOf(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (error: unknown) => error,
  );
}

describe('authenticate', () => {
  it('returns the principal and the bearer value to forward', async () => {
    const caller = await authenticate(verifier(principal('alice')), `Bearer ${TOKEN}`);
    expect(caller).toEqual({ principal: principal('alice'), authorization: `Bearer ${TOKEN}` });
  });

  it.each([
    ['no metadata', undefined],
    ['another scheme', 'Basic abc'],
    ['a token that is no JWT', 'Bearer not-a-jwt'],
  ])('refuses %s as CALLER_UNAUTHENTICATED (nothing charged) without asking the verifier', async (_name, header) => {
    const error = await failureOf(authenticate(verifier(new Error('must not be called')), header));
    expect(error).toBeInstanceOf(TopUpFailure);
    expect(error).toMatchObject({ reason: 'CALLER_UNAUTHENTICATED', charged: 'false' });
  });

  it('a refused token is CALLER_UNAUTHENTICATED with the safe description, never the token', async () => {
    const error = await failureOf(authenticate(verifier(new AccessTokenError('invalid_token', 'the access token expired')), `Bearer ${TOKEN}`));
    expect(error).toMatchObject({ reason: 'CALLER_UNAUTHENTICATED' });
    expect((error as Error).message).toContain('expired');
    expect((error as Error).message).not.toContain(TOKEN);
  });

  it('an unreachable issuer (or any other verifier failure) is DependencyUnavailable, not the caller\'s fault', async () => {
    for (const failure of [new AccessTokenError('unavailable', 'the token issuer is unreachable'), new Error('boom')]) {
      const error = await failureOf(authenticate(verifier(failure), `Bearer ${TOKEN}`));
      expect(error).toBeInstanceOf(DependencyUnavailable);
      expect(error).toMatchObject({ dependency: 'token_issuer' });
    }
  });
});

describe('role rules', () => {
  it('support may not top up; customers and admins may', () => {
    expect(() => assertMayTopUp(principal('s', ['support']))).toThrow(expect.objectContaining({ reason: 'ROLE_FORBIDDEN', charged: 'false' }));
    expect(() => assertMayTopUp(principal('a'))).not.toThrow();
    expect(() => assertMayTopUp(principal('x', ['admin']))).not.toThrow();
    expect(() => assertMayTopUp(principal('x', ['support', 'admin']))).not.toThrow();
  });

  it('a top-up is seen by its initiator, support and admin; a legacy one (no initiator) by support and admin only', () => {
    expect(maySeeTopUp(principal('alice'), 'alice')).toBe(true);
    expect(maySeeTopUp(principal('bob'), 'alice')).toBe(false);
    expect(maySeeTopUp(principal('s', ['support']), 'alice')).toBe(true);
    expect(maySeeTopUp(principal('x', ['admin']), 'alice')).toBe(true);
    expect(maySeeTopUp(principal('alice'), null)).toBe(false);
    expect(maySeeTopUp(principal('s', ['support']), null)).toBe(true);
  });
});

describe('gRPC mapping of the caller failures', () => {
  it('maps CALLER_UNAUTHENTICATED, ROLE_FORBIDDEN and an unavailable dependency', () => {
    const unauthenticated = parseGrpcError(toServiceError(new TopUpFailure({ reason: 'CALLER_UNAUTHENTICATED', message: 'm', charged: 'false' })));
    expect(unauthenticated).toMatchObject({ code: Status.UNAUTHENTICATED, reason: 'CALLER_UNAUTHENTICATED', domain: 'card-adapter.wallet' });
    const forbidden = parseGrpcError(toServiceError(new TopUpFailure({ reason: 'ROLE_FORBIDDEN', message: 'm', charged: 'false' })));
    expect(forbidden).toMatchObject({ code: Status.PERMISSION_DENIED, reason: 'ROLE_FORBIDDEN' });
    const unavailable = parseGrpcError(toServiceError(new DependencyUnavailable('bank', 'the bank could not confirm the account')));
    expect(unavailable).toMatchObject({ code: Status.UNAVAILABLE, reason: 'UNSPECIFIED', metadata: { charged: 'false', unavailable: 'bank' } });
    expect(unavailable.message).toContain('nothing was charged');
  });
});
