// VerifyLedger: walks a page of accounts, recomputes each account's hash
// chain, prev links and balance_after sums (domain/ledger-chain.ts) and
// reports the first break. Bounded work per call: at most `accountsMax`
// accounts, and no new account once `entriesMax` entries were read (an
// account is always finished: its entries are streamed in chunks).
import { withTransaction } from '@wallet/platform/db';
import { checkChainEnd, checkChainStep, startChain, type ChainBreak, type ChainCursor } from '../domain/ledger-chain.js';
import { listAccountsToVerify, readEntryChunk, VERIFY_BEGIN_SQL } from '../db/ledger-verify.js';
import type { Queryable } from '../db/ledger-writes.js';
import type { FeatureContext } from './operations.js';

export const VERIFY_ACCOUNTS_DEFAULT = 1_000;
export const VERIFY_ACCOUNTS_MAX = 100_000;
/** Entries per call before no further account is started. */
export const VERIFY_ENTRIES_MAX = 1_000_000;
/** Entries per query (memory bound). */
export const VERIFY_CHUNK_ROWS = 5_000;

export interface VerifyLedgerInput {
  accountId: string | null;
  afterAccountId: string | null;
  accountsMax: number;
}

export interface VerifyLedgerResult {
  ok: boolean;
  accountsChecked: number;
  entriesChecked: number;
  firstBreak: ChainBreak | undefined;
  /** More accounts may remain: continue after this one. */
  nextAfterAccountId: string | undefined;
}

export class LedgerVerifyUseCase {
  constructor(
    private readonly context: Pick<FeatureContext, 'pool' | 'attempts'>,
    private readonly bounds = { entriesMax: VERIFY_ENTRIES_MAX, chunkRows: VERIFY_CHUNK_ROWS },
  ) {}

  async verify(input: VerifyLedgerInput): Promise<VerifyLedgerResult> {
    return this.context.attempts.run('ledger_verify', () =>
      withTransaction(this.context.pool, VERIFY_BEGIN_SQL, (client) => this.verifyPage(client, input)),
    );
  }

  private async verifyPage(db: Queryable, input: VerifyLedgerInput): Promise<VerifyLedgerResult> {
    const accounts = await listAccountsToVerify(db, { accountId: input.accountId, afterAccountId: input.afterAccountId, limit: input.accountsMax });
    let entriesChecked = 0;
    let accountsChecked = 0;
    for (const account of accounts) {
      const walk = await this.walkAccount(db, account.id);
      entriesChecked += walk.cursor.entries;
      accountsChecked += 1;
      const firstBreak = walk.break ?? checkChainEnd(walk.cursor, account.balanceMinor);
      const more = input.accountId === null && (accountsChecked < accounts.length || accounts.length === input.accountsMax);
      if (firstBreak) {
        return { ok: false, accountsChecked, entriesChecked, firstBreak, nextAfterAccountId: more ? account.id : undefined };
      }
      if (more && entriesChecked >= this.bounds.entriesMax) {
        return { ok: true, accountsChecked, entriesChecked, firstBreak: undefined, nextAfterAccountId: account.id };
      }
    }
    const last = accounts.at(-1);
    const more = input.accountId === null && last !== undefined && accounts.length === input.accountsMax;
    return { ok: true, accountsChecked, entriesChecked, firstBreak: undefined, nextAfterAccountId: more ? last.id : undefined };
  }

  private async walkAccount(db: Queryable, accountId: string): Promise<{ cursor: ChainCursor; break?: ChainBreak }> {
    let cursor = startChain(accountId);
    for (;;) {
      const chunk = await readEntryChunk(db, { accountId, afterEntryId: cursor.lastEntryId, limit: this.bounds.chunkRows });
      for (const entry of chunk) {
        const step = checkChainStep(cursor, entry);
        if (!step.ok) return { cursor, break: step.break };
        cursor = step.cursor;
      }
      if (chunk.length < this.bounds.chunkRows) return { cursor };
    }
  }
}
