// Get/SetAccountLimits (ADR 0016): the overdraft, the daily and monthly
// spending limits within the admin maxima, and the windows' time zone, kept
// on the account row. A change locks the row like a movement does, so a
// transfer batch decides against either the old limits or the new ones.
import { withTransaction } from '@wallet/platform/db';
import { formatAmountMinor } from '@wallet/platform';
import { checkRead, type Principal } from '../domain/access.js';
import { AccountNotFoundError } from '../domain/errors.js';
import { availableMinor } from '../domain/spending.js';
import {
  applyLimitsChange,
  checkMaySetLimits,
  limitsView,
  OverdraftBelowDebtError,
  validateSetLimitsRequest,
  type LimitsView,
  type SetLimitsInput,
} from '../domain/limits.js';
import { validateAccountId } from '../domain/requests.js';
import { findAccountLimits, writeAccountLimits, type AccountLimitsRecord } from '../db/limits.js';
import type { FeatureContext } from './operations.js';

export interface AccountLimitsResult {
  accountId: string;
  currency: string;
  view: LimitsView;
}

/** The check constraint that keeps available >= -overdraft (and F3's forced debt). */
const OVERDRAFT_CONSTRAINT = 'accounts_available_within_overdraft';

function isOverdraftViolation(error: unknown): boolean {
  const e = error as { code?: unknown; constraint?: unknown } | undefined;
  return e?.code === '23514' && e.constraint === OVERDRAFT_CONSTRAINT;
}

export class LimitsUseCase {
  constructor(private readonly context: FeatureContext) {}

  /** Owner, support and admin may read; anyone else hears "not found". */
  async getAccountLimits(accountIdInput: string, caller: Principal): Promise<AccountLimitsResult> {
    const accountId = validateAccountId(accountIdInput);
    const record = await this.context.attempts.run('account', () => findAccountLimits(this.context.pool, accountId, { lock: false }));
    if (record) this.context.owners.remember(record.id, record.ownerId);
    checkRead(caller, accountId, record && { ownerId: record.ownerId });
    if (!record) throw new AccountNotFoundError(accountId, 'account');
    return this.result(record);
  }

  /** Admin: everything; owner: daily/monthly limits within the maxima and the time zone; support: refused. */
  async setAccountLimits(input: SetLimitsInput, caller: Principal): Promise<AccountLimitsResult> {
    const change = validateSetLimitsRequest(input);
    // Refused roles and other owners' accounts before any lock is taken (owners never change).
    const owner = await this.context.owners.lookUp(change.accountId);
    checkMaySetLimits(caller, change, owner);
    const record = await this.context.attempts.run('account', (markWriteSent) =>
      withTransaction(this.context.pool, 'BEGIN', async (client) => {
        const current = await findAccountLimits(client, change.accountId, { lock: true });
        if (!current) throw new AccountNotFoundError(change.accountId, 'account');
        const next = applyLimitsChange(current, change);
        markWriteSent();
        try {
          return await writeAccountLimits(client, change.accountId, next, this.context.clock.next());
        } catch (error) {
          if (!isOverdraftViolation(error)) throw error;
          const owed = -availableMinor(current);
          throw new OverdraftBelowDebtError(change.accountId, formatAmountMinor(owed > 0n ? owed : 0n));
        }
      }),
    );
    this.context.logger.info(
      { accountId: change.accountId, by: caller.subject, overdraftLimitMinor: record.overdraftLimitMinor.toString() },
      'account limits changed',
    );
    return this.result(record);
  }

  private result(record: AccountLimitsRecord): AccountLimitsResult {
    return { accountId: record.id, currency: record.currency, view: limitsView(record, this.context.clock.next()) };
  }
}
