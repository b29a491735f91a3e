// GetTopUp: a top-up in its current state, by id or by (account, idempotency key).

import type { Principal } from '@wallet/platform/auth';
import type { TopUpRepository } from '../db/top-ups.js';
import { TopUpFailure } from '../domain/failures.js';
import type { TopUpRecord } from '../domain/top-up.js';
import { maySeeTopUp } from './caller.js';

export type TopUpQuery = { topUpId: string } | { accountId: string; idempotencyKey: string };

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Validates the query (field violations name the proto fields); throws TopUpFailure for bad input or none found. */
export function parseTopUpQuery(input: { topUpId: string; accountId: string; idempotencyKey: string }): TopUpQuery {
  if (input.topUpId) {
    if (!UUID.test(input.topUpId)) throw invalid('top_up_id', 'must be a UUID');
    return { topUpId: input.topUpId };
  }
  if (!UUID.test(input.accountId)) throw invalid('account_id', 'must be a UUID (or give top_up_id)');
  if (input.idempotencyKey.length < 1 || input.idempotencyKey.length > 255) throw invalid('idempotency_key', 'must be 1-255 characters (or give top_up_id)');
  return { accountId: input.accountId, idempotencyKey: input.idempotencyKey };
}

function invalid(field: string, description: string): TopUpFailure {
  return new TopUpFailure({ reason: 'INVALID_ARGUMENT', message: `${field} ${description}`, charged: 'false', fieldViolations: [{ field, description }] });
}

/** Only the initiator, support and admin see a top-up; anyone else is told it does not exist (no enumeration). */
export async function getTopUp(repository: TopUpRepository, query: TopUpQuery, principal: Principal): Promise<TopUpRecord> {
  const record =
    'topUpId' in query ? await repository.findById(query.topUpId) : ((await repository.findByKey(query.accountId, query.idempotencyKey))?.record ?? null);
  if (!record || !maySeeTopUp(principal, record.initiatedBy)) throw new TopUpFailure({ reason: 'TOP_UP_NOT_FOUND', message: 'no such top-up', charged: 'false' });
  return record;
}
