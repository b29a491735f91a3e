import { describe, expect, it } from 'vitest';
import { checkMayMoveMoney, checkMoveFrom, checkRead, listingOwner, needsOwnerToMove, openingOwner } from '../../src/domain/access.js';
import { AccountNotFoundError, RoleForbiddenError } from '../../src/domain/errors.js';
import { ADMIN, principal } from '../support/callers.js';

const ACCOUNT = '123e4567-e89b-12d3-a456-426614174000';
const alice = principal('alice');
const bob = principal('bob');
const support = principal('support-1', ['support']);

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  return undefined;
}

describe('moving money out of an account', () => {
  it('lets the owner and admin debit, and nobody else', () => {
    expect(() => checkMoveFrom(alice, ACCOUNT, { ownerId: 'alice' })).not.toThrow();
    expect(() => checkMoveFrom(ADMIN, ACCOUNT, { ownerId: 'alice' })).not.toThrow();
    expect(() => checkMoveFrom(ADMIN, ACCOUNT, { ownerId: null })).not.toThrow();
    expect(needsOwnerToMove(ADMIN)).toBe(false);
    expect(needsOwnerToMove(alice)).toBe(true);
  });

  it("answers another customer's account exactly like an unknown one (no enumeration)", () => {
    const notOwned = thrown(() => checkMoveFrom(bob, ACCOUNT, { ownerId: 'alice' })) as AccountNotFoundError;
    const unknown = thrown(() => checkMoveFrom(bob, ACCOUNT, undefined)) as AccountNotFoundError;
    const ownerless = thrown(() => checkMoveFrom(bob, ACCOUNT, { ownerId: null })) as AccountNotFoundError;
    for (const error of [notOwned, unknown, ownerless]) expect(error).toBeInstanceOf(AccountNotFoundError);
    expect([notOwned.message, notOwned.metadata]).toEqual([unknown.message, unknown.metadata]);
    expect([ownerless.message, ownerless.metadata]).toEqual([unknown.message, unknown.metadata]);
    expect(notOwned.metadata).toEqual({ accountId: ACCOUNT, role: 'sender' });
  });

  it('refuses support before any account is looked at', () => {
    expect(thrown(() => checkMayMoveMoney(support))).toBeInstanceOf(RoleForbiddenError);
    expect(thrown(() => checkMoveFrom(support, ACCOUNT, { ownerId: 'support-1' }))).toBeInstanceOf(RoleForbiddenError);
    expect(() => checkMayMoveMoney(alice)).not.toThrow();
    expect(() => checkMayMoveMoney(ADMIN)).not.toThrow();
  });
});

describe('reading an account', () => {
  it('lets the owner, support and admin read; others get "not found" like for an unknown account', () => {
    for (const reader of [alice, support, ADMIN]) expect(() => checkRead(reader, ACCOUNT, { ownerId: 'alice' })).not.toThrow();
    const notOwned = thrown(() => checkRead(bob, ACCOUNT, { ownerId: 'alice' })) as AccountNotFoundError;
    const unknown = thrown(() => checkRead(ADMIN, ACCOUNT, undefined)) as AccountNotFoundError;
    expect(notOwned).toBeInstanceOf(AccountNotFoundError);
    expect([notOwned.message, notOwned.metadata]).toEqual([unknown.message, unknown.metadata]);
  });
});

describe('opening and listing accounts', () => {
  it('opens for the caller itself; admin for anyone; support never', () => {
    expect(openingOwner(alice, undefined)).toBe('alice');
    expect(openingOwner(alice, 'alice')).toBe('alice');
    expect(thrown(() => openingOwner(alice, 'bob'))).toBeInstanceOf(RoleForbiddenError);
    expect(openingOwner(ADMIN, 'bob')).toBe('bob');
    expect(openingOwner(ADMIN, undefined)).toBe(ADMIN.subject);
    expect(thrown(() => openingOwner(support, undefined))).toBeInstanceOf(RoleForbiddenError);
  });

  it("lists the caller's own accounts; support and admin may name an owner; a customer naming another is refused", () => {
    expect(listingOwner(alice, undefined)).toBe('alice');
    expect(listingOwner(alice, 'alice')).toBe('alice');
    expect(thrown(() => listingOwner(alice, 'bob'))).toBeInstanceOf(RoleForbiddenError);
    expect(listingOwner(support, 'bob')).toBe('bob');
    expect(listingOwner(ADMIN, 'bob')).toBe('bob');
  });
});
