// Balances in time and statements (ADR 0020). Who may read: the account's
// owner, support, admin (domain/access.ts checkRead); anyone else hears
// "not found". A statement is read in ONE repeatable-read, read-only
// transaction, so its opening balance, every chunk and its closing balance
// come from one snapshot (an entry committing meanwhile is in none of them),
// and in chunks by keyset, so memory stays bounded whatever the range.
import type pg from 'pg';
import { checkRead, type Principal } from '../domain/access.js';
import { AccountNotFoundError, StorageUnavailableError } from '../domain/errors.js';
import {
  RunningStatement,
  StatementTooLargeError,
  validateBalanceAtRequest,
  validateStatementRequest,
  type BalanceAtInput,
  type StatementInput,
  type StatementLine,
  type StatementRange,
  type StatementTotals,
} from '../domain/statements.js';
import { findAccountBalance, type AccountBalance } from '../db/accounts.js';
import { cursorBefore, rangeExceeds, readStatementChunk, sumEntriesUpTo } from '../db/statements.js';
import type { Queryable } from '../db/ledger-writes.js';
import type { FeatureContext } from './operations.js';

export const STATEMENT_DEFAULTS = {
  /** Entries per chunk: one keyset query and one streamed message (~100 bytes an entry). */
  chunkSizeMax: 500,
  /** Entries per statement; a range holding more is refused before the header. */
  entriesMax: 100_000,
  /** Statements streaming at once, each holding one pooled connection for its duration. */
  concurrencyMax: 4,
  /**
   * How long the stream may wait for a slow reader between chunks; below the
   * database's idle-in-transaction timeout, so the bank ends the statement
   * itself (DEADLINE_EXCEEDED) before PostgreSQL kills the connection.
   */
  writeWaitMsMax: 5_000,
} as const;

export type StatementSettings = { [K in keyof typeof STATEMENT_DEFAULTS]: number };

export interface BalanceAt {
  accountId: string;
  currency: string;
  balanceMinor: bigint;
  at: Date;
  lastEntryId: bigint;
}

export type StatementPart =
  | { kind: 'header'; accountId: string; currency: string; from: Date; to: Date; openingMinor: bigint }
  | { kind: 'entries'; entries: StatementLine[] }
  | { kind: 'footer'; currency: string; totals: StatementTotals };

const BEGIN_SNAPSHOT = 'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY';

export class StatementUseCase {
  private running = 0;

  constructor(
    private readonly context: FeatureContext,
    private readonly settings: StatementSettings,
  ) {}

  /** The posted balance at `at`: the sum of the account's entries created at or before it. */
  async getBalanceAt(input: BalanceAtInput, caller: Principal): Promise<BalanceAt> {
    const { accountId, at } = validateBalanceAtRequest(input);
    // One statement snapshot is enough: the sum is one query.
    return this.context.attempts.run('balance_at', async () => {
      const account = await this.readableAccount(this.context.pool, accountId, caller);
      const { sumMinor, lastEntryId } = await sumEntriesUpTo(this.context.pool, accountId, at, 'inclusive');
      return { accountId, currency: account.currency, balanceMinor: sumMinor, at, lastEntryId };
    });
  }

  /**
   * Header, entry chunks, footer. Checked (request, access, size) before the
   * first part; the connection is held only while the consumer pulls, and is
   * given back when the consumer stops early (return()) or fails.
   */
  async *statement(input: StatementInput, caller: Principal): AsyncGenerator<StatementPart, void, undefined> {
    const range = validateStatementRequest(input, this.settings.entriesMax);
    if (this.running >= this.settings.concurrencyMax) throw new StorageUnavailableError('overloaded');
    this.running += 1;
    try {
      const client = await this.connect();
      let failed: unknown;
      try {
        await client.query(BEGIN_SNAPSHOT);
        yield* this.readStatement(client, range, caller);
        await client.query('COMMIT');
      } catch (error) {
        failed = error;
        throw this.context.attempts.finalError('statement', error);
      } finally {
        await this.finish(client, failed);
      }
    } finally {
      this.running -= 1;
    }
  }

  private async *readStatement(db: Queryable, range: StatementRange, caller: Principal): AsyncGenerator<StatementPart, void, undefined> {
    const account = await this.readableAccount(db, range.accountId, caller);
    if (await rangeExceeds(db, range.accountId, range.from, range.to, range.entriesMax)) throw new StatementTooLargeError(range.entriesMax);
    const opening = await sumEntriesUpTo(db, range.accountId, range.from, 'exclusive');
    const running = new RunningStatement(opening.sumMinor);
    yield { kind: 'header', accountId: range.accountId, currency: account.currency, from: range.from, to: range.to, openingMinor: opening.sumMinor };
    let cursor = cursorBefore(range.from);
    // Bounded: rangeExceeds saw at most entriesMax entries in this snapshot.
    for (let read = 0; read <= range.entriesMax; ) {
      const chunk = await readStatementChunk(db, range.accountId, cursor, range.to, this.settings.chunkSizeMax);
      if (chunk.entries.length > 0) yield { kind: 'entries', entries: running.add(chunk.entries) };
      read += chunk.entries.length;
      if (!chunk.cursor || chunk.entries.length < this.settings.chunkSizeMax) break;
      cursor = chunk.cursor;
    }
    yield { kind: 'footer', currency: account.currency, totals: running.totals() };
  }

  private async readableAccount(db: Queryable, accountId: string, caller: Principal): Promise<AccountBalance> {
    const found = await findAccountBalance(db, accountId);
    // System accounts (settlement) are internal: not visible through the API.
    const account = found?.kind === 'customer' ? found : undefined;
    checkRead(caller, accountId, account && { ownerId: account.ownerId });
    if (!account) throw new AccountNotFoundError(accountId, 'account');
    return account;
  }

  private async connect(): Promise<pg.PoolClient> {
    try {
      return await this.context.pool.connect();
    } catch (error) {
      throw this.context.attempts.finalError('statement', error);
    }
  }

  /** Ends the snapshot (a no-op after COMMIT) and returns the connection; a broken one is destroyed. */
  private async finish(client: pg.PoolClient, failed: unknown): Promise<void> {
    let broken: Error | undefined;
    try {
      await client.query('ROLLBACK');
    } catch (error) {
      broken = error as Error;
    }
    client.release(broken ?? (failed instanceof Error && /connection|terminat/i.test(failed.message) ? failed : false));
  }
}
