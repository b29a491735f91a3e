// GetAccountOwners (issue #15): the webhook-service asks who owns the accounts
// of the events it fans out. Owners never change, so cached owners are
// answered from memory and only the misses cost one query (all of them at once).
import { findAccountOwners } from '../db/accounts.js';
import { InvalidArgumentError } from '../domain/errors.js';
import { isUuid } from '../domain/ids.js';
import type { FeatureContext } from './operations.js';

/** Bound of one request (the proto's "at most 1000"). */
export const ACCOUNT_OWNERS_IDS_MAX = 1_000;

/** Refuses a request with too many ids or a malformed one; answers the distinct ids, lowercased. */
export function parseAccountIds(accountIds: readonly string[]): string[] {
  if (accountIds.length > ACCOUNT_OWNERS_IDS_MAX) {
    throw new InvalidArgumentError([{ field: 'account_ids', description: `at most ${ACCOUNT_OWNERS_IDS_MAX} ids` }]);
  }
  const invalid = accountIds.findIndex((id) => !isUuid(id));
  if (invalid >= 0) throw new InvalidArgumentError([{ field: `account_ids[${invalid}]`, description: 'must be a UUID' }]);
  return [...new Set(accountIds.map((id) => id.toLowerCase()))];
}

/** account id -> owner id for the customer accounts that have an owner; unknown ones are absent. */
export async function getAccountOwners(context: Pick<FeatureContext, 'pool' | 'attempts' | 'owners'>, accountIds: readonly string[]): Promise<Map<string, string>> {
  const ids = parseAccountIds(accountIds);
  const owners = new Map<string, string>();
  const misses: string[] = [];
  for (const id of ids) {
    const hit = context.owners.cached(id);
    if (hit === undefined) misses.push(id);
    else if (hit.ownerId !== null) owners.set(id, hit.ownerId);
  }
  if (misses.length === 0) return owners;
  const found = await context.attempts.run('account', () => findAccountOwners(context.pool, misses));
  for (const [id, ownerId] of found) {
    context.owners.remember(id, ownerId);
    if (ownerId !== null) owners.set(id, ownerId);
  }
  return owners;
}
