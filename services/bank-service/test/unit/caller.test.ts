import { Metadata } from '@grpc/grpc-js';
import { AccessTokenError, type Principal, type TokenVerifier } from '@wallet/platform/auth';
import { describe, expect, it } from 'vitest';
import { CallerUnauthenticatedError, IdentityUnavailableError } from '../../src/domain/errors.js';
import { createCallerAuthenticator } from '../../src/grpc/caller.js';
import { principal } from '../support/callers.js';

const TOKEN = 'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln';

function metadata(entries: Record<string, string | Buffer | string[]>): Metadata {
  const m = new Metadata();
  for (const [key, value] of Object.entries(entries)) {
    for (const v of Array.isArray(value) ? value : [value]) m.add(key, v);
  }
  return m;
}

function authenticator(verify: (token: string) => Promise<Principal>) {
  const verifier: TokenVerifier = { verify };
  return createCallerAuthenticator({ verifier });
}

async function failure(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a failure');
}

describe('end-user callers (authorization: Bearer)', () => {
  const alice = principal('alice');

  it('hands the verified principal on', async () => {
    expect(await authenticator(async (token) => (token === TOKEN ? alice : Promise.reject(new Error('x')))).user(metadata({ authorization: `Bearer ${TOKEN}` }))).toBe(alice);
  });

  it.each([
    ['no metadata', {}],
    ['a garbage value', { authorization: 'garbage' }],
    ['another scheme', { authorization: `Basic ${TOKEN}` }],
    ['a token that is no JWT', { authorization: 'Bearer not-a-jwt' }],
    ['two authorization values', { authorization: [`Bearer ${TOKEN}`, `Bearer ${TOKEN}`] }],
    ['a binary value', { 'authorization-bin': Buffer.from('x') }],
  ])('refuses %s with CALLER_UNAUTHENTICATED, without asking the issuer', async (_name, entries) => {
    let verified = 0;
    const error = await failure(
      authenticator(async () => {
        verified += 1;
        return alice;
      }).user(metadata(entries)),
    );
    expect(error).toBeInstanceOf(CallerUnauthenticatedError);
    expect(verified).toBe(0);
  });

  it('turns a token the verifier refuses into CALLER_UNAUTHENTICATED with its safe description, never the token', async () => {
    const error = (await failure(
      authenticator(() => Promise.reject(new AccessTokenError('invalid_token', 'the access token expired'))).user(metadata({ authorization: `Bearer ${TOKEN}` })),
    )) as CallerUnauthenticatedError;
    expect(error).toBeInstanceOf(CallerUnauthenticatedError);
    expect(error.message).toContain('expired');
    expect(error.message).not.toContain(TOKEN);
  });

  it('turns an unreachable issuer into IDENTITY_UNAVAILABLE (retry later), not a refusal', async () => {
    const error = await failure(
      authenticator(() => Promise.reject(new AccessTokenError('unavailable', 'the token issuer is unreachable'))).user(metadata({ authorization: `Bearer ${TOKEN}` })),
    );
    expect(error).toBeInstanceOf(IdentityUnavailableError);
  });
});
