// The ClickHouse adapter: inserts operation rows and answers the history and
// summary queries. All 64-bit values cross the wire as strings (toString in
// SQL, strings in inserts) so no amount or timestamp passes through a float.
import type { ClickHouseClient } from '@clickhouse/client';
import type { CursorPosition } from '../domain/cursor.js';
import { POSTED_IN_TYPES, POSTED_OUT_TYPES, type OperationRow, type OperationTypeName } from '../domain/operation.js';
import type { OperationsQuery } from '../domain/query.js';
import type { SummaryAggregate, SummaryQuery } from '../domain/summary.js';
import { schemaStatements } from './schema.js';
import { withStoreSpan, type StoreTarget } from './spans.js';

export interface StoredOperation {
  eventId: string;
  accountId: string;
  type: OperationTypeName;
  createdAtMicros: bigint;
  amountMinor: bigint;
  currency: string;
  counterpartyAccountId: string;
  transferId: string;
  topUpId: string;
  description: string;
  cardLast4: string;
  initiatedBy: string;
  holdId: string;
  direction: string;
  reversalId: string;
  originalTransferId: string;
  forced: boolean;
  refundId: string;
}

export interface OperationsPage {
  operations: StoredOperation[];
  /** Position of the last returned row when more rows follow. */
  next?: CursorPosition;
}

/** Result aliases are camelCase so they never shadow a column in WHERE/ORDER BY (ClickHouse resolves aliases there). */
interface OperationRecord {
  eventId: string;
  accountId: string;
  opType: OperationTypeName;
  createdAtUs: string;
  amountMinor: string;
  currencyCode: string;
  counterpartyAccountId: string;
  transferId: string;
  topUpId: string;
  descriptionText: string;
  cardLast4: string;
  initiatedBy: string;
  holdId: string;
  holdDirection: string;
  reversalId: string;
  originalTransferId: string;
  /** 0 or 1 (Bool through toUInt8: JSONEachRow would give true/false, this keeps one form). */
  isForced: number;
  refundId: string;
}

const nullIfEmpty = (value: string): string | null => (value === '' ? null : value);

/**
 * A read before the schema exists (the store was down at start): a passing condition, like the
 * store being unreachable (no ClickHouse code, so classified transient: UNAVAILABLE, not INTERNAL).
 */
export class StoreNotReadyError extends Error {
  constructor() {
    super('the store schema is not set up yet (ClickHouse unreachable since start)');
    this.name = 'StoreNotReadyError';
  }
}

export class OperationsStore {
  private readonly table: string;
  /** What the spans of this store's calls name (table, database, server). */
  readonly target: StoreTarget;

  constructor(
    private readonly client: ClickHouseClient,
    private readonly database: string,
    server?: StoreTarget['server'],
  ) {
    this.table = `${database}.operations`;
    this.target = { namespace: database, collection: this.table, ...(server ? { server } : {}) };
  }

  /** True once ensureSchema succeeded: reads before that answer StoreNotReadyError. */
  schemaReady = false;

  /** Creates the database and table if missing (idempotent; run on every start). */
  async ensureSchema(): Promise<void> {
    for (const statement of schemaStatements(this.database)) {
      await this.client.command({ query: statement });
    }
    this.schemaReady = true;
  }

  private assertReady(): void {
    if (!this.schemaReady) throw new StoreNotReadyError();
  }

  async ping(): Promise<boolean> {
    const result = await this.client.ping();
    return result.success;
  }

  async insert(rows: readonly OperationRow[]): Promise<void> {
    if (rows.length === 0) return;
    await withStoreSpan(this.target, 'INSERT', 'insert_operations', async (span) => {
      span.setAttribute('db.operation.batch.size', rows.length);
      await this.insertRows(rows);
    });
  }

  private async insertRows(rows: readonly OperationRow[]): Promise<void> {
    await this.client.insert({
      table: this.table,
      format: 'JSONEachRow',
      values: rows.map((row) => ({
        account_id: row.accountId,
        created_at: formatMicrosForClickHouse(row.createdAtMicros),
        event_id: row.eventId,
        type: row.type,
        amount_minor: row.amountMinor.toString(),
        currency: row.currency,
        counterparty_account_id: nullIfEmpty(row.counterpartyAccountId),
        transfer_id: nullIfEmpty(row.transferId),
        top_up_id: nullIfEmpty(row.topUpId),
        deposit_id: nullIfEmpty(row.depositId),
        description: row.description,
        card_last4: row.cardLast4,
        card_brand: row.cardBrand,
        initiated_by: row.initiatedBy,
        hold_id: nullIfEmpty(row.holdId),
        direction: row.direction,
        reversal_id: nullIfEmpty(row.reversalId),
        original_transfer_id: nullIfEmpty(row.originalTransferId),
        forced: row.forced,
        refund_id: nullIfEmpty(row.refundId),
      })),
    });
  }

  /**
   * Which of these rows are already stored. Looked up by the full sorting key
   * prefix (account, time window, id), so it touches only the matching granules.
   */
  async existingEventIds(rows: readonly OperationRow[]): Promise<Set<string>> {
    if (rows.length === 0) return new Set();
    return withStoreSpan(this.target, 'SELECT', 'existing_event_ids', async (span) => {
      const found = await this.findEventIds(rows);
      span.setAttribute('db.response.returned_rows', found.size);
      return found;
    });
  }

  private async findEventIds(rows: readonly OperationRow[]): Promise<Set<string>> {
    let minMicros = rows[0]!.createdAtMicros;
    let maxMicros = minMicros;
    for (const row of rows) {
      if (row.createdAtMicros < minMicros) minMicros = row.createdAtMicros;
      if (row.createdAtMicros > maxMicros) maxMicros = row.createdAtMicros;
    }
    const result = await this.client.query({
      query: `SELECT DISTINCT toString(event_id) AS eventId FROM ${this.table}
        WHERE account_id IN {accounts:Array(UUID)}
          AND created_at >= fromUnixTimestamp64Micro({min:Int64}, 'UTC')
          AND created_at <= fromUnixTimestamp64Micro({max:Int64}, 'UTC')
          AND event_id IN {ids:Array(UUID)}`,
      query_params: {
        accounts: [...new Set(rows.map((r) => r.accountId))],
        min: minMicros.toString(),
        max: maxMicros.toString(),
        ids: rows.map((r) => r.eventId),
      },
      format: 'JSONEachRow',
    });
    const found = await result.json<{ eventId: string }>();
    return new Set(found.map((r) => r.eventId));
  }

  /** One page, newest first, plus the position to continue from when more rows exist. */
  async listOperations(query: OperationsQuery): Promise<OperationsPage> {
    this.assertReady();
    return withStoreSpan(this.target, 'SELECT', 'history_page', async (span) => {
      const page = await this.readPage(query);
      span.setAttribute('db.response.returned_rows', page.operations.length);
      return page;
    });
  }

  private async readPage(query: OperationsQuery): Promise<OperationsPage> {
    const { filter } = query;
    const conditions = ['account_id = {account:UUID}'];
    const params: Record<string, unknown> = { account: filter.accountId, limit: query.pageSize + 1 };
    if (filter.types.length > 0) {
      conditions.push('type IN {types:Array(String)}');
      params.types = filter.types;
    }
    if (filter.fromMicros !== undefined) {
      conditions.push(`created_at >= fromUnixTimestamp64Micro({from:Int64}, 'UTC')`);
      params.from = filter.fromMicros.toString();
    }
    if (filter.toMicros !== undefined) {
      conditions.push(`created_at < fromUnixTimestamp64Micro({to:Int64}, 'UTC')`);
      params.to = filter.toMicros.toString();
    }
    if (query.after) {
      // Keyset: strictly after the cursor in (created_at DESC, event_id DESC).
      // Written as a range on created_at plus a tie-break so the primary key prunes.
      conditions.push(
        `created_at <= fromUnixTimestamp64Micro({afterTime:Int64}, 'UTC')`,
        `(created_at < fromUnixTimestamp64Micro({afterTime:Int64}, 'UTC') OR event_id < {afterId:UUID})`,
      );
      params.afterTime = query.after.createdAtMicros.toString();
      params.afterId = query.after.eventId;
    }
    const result = await this.client.query({
      query: `SELECT ${OPERATION_COLUMNS}
        FROM ${this.table} FINAL
        WHERE ${conditions.join(' AND ')}
        ORDER BY created_at DESC, event_id DESC
        LIMIT {limit:UInt32}`,
      query_params: params,
      format: 'JSONEachRow',
    });
    return toPage(await result.json<OperationRecord>(), query.pageSize);
  }

  /**
   * The unfiltered first page of each account, in two queries whatever their number: the keys of
   * each account's newest `pageSize + 1` rows (3 narrow columns), then the full rows inside each
   * account's key range. Embedded chDB spends ~4 ms planning and ~5 ms reading 12 columns per page
   * query: for 16 accounts this costs about a third of 16 single reads (README "History page cache").
   * Same pages, cursors and dedup (FINAL) as listOperations.
   */
  async listFirstPages(accountIds: readonly string[], pageSize: number): Promise<Map<string, OperationsPage>> {
    this.assertReady();
    return withStoreSpan(this.target, 'SELECT', 'history_first_pages', async (span) => {
      const pages = await this.readFirstPages(accountIds, pageSize);
      span.setAttribute('db.operation.batch.size', accountIds.length);
      return pages;
    });
  }

  private async readFirstPages(accountIds: readonly string[], pageSize: number): Promise<Map<string, OperationsPage>> {
    const keys = await (
      await this.client.query({
        query: `SELECT toString(account_id) AS accountId, toString(toUnixTimestamp64Micro(created_at)) AS createdAtUs, toString(event_id) AS eventId
          FROM ${this.table} FINAL
          WHERE account_id IN {accounts:Array(UUID)}
          ORDER BY account_id, created_at DESC, event_id DESC
          LIMIT {limit:UInt32} BY account_id`,
        query_params: { accounts: accountIds, limit: pageSize + 1 },
        format: 'JSONEachRow',
      })
    ).json<{ accountId: string; createdAtUs: string; eventId: string }>();
    const ranges = new Map<string, { fromUs: string; toUs: string }>();
    for (const key of keys) {
      const range = ranges.get(key.accountId);
      // Keys come newest first per account: the first is the range's top, the last its bottom.
      if (range) range.fromUs = key.createdAtUs;
      else ranges.set(key.accountId, { fromUs: key.createdAtUs, toUs: key.createdAtUs });
    }
    const wanted = new Set(keys.map((k) => `${k.accountId}/${k.createdAtUs}/${k.eventId}`));
    const rows = ranges.size === 0 ? [] : await this.readRanges([...ranges]);
    const byAccount = new Map<string, OperationRecord[]>();
    for (const row of rows) {
      // The ranges may hold rows beyond a page (same microsecond as its bottom): keep the keys only.
      if (!wanted.has(`${row.accountId}/${row.createdAtUs}/${row.eventId}`)) continue;
      const list = byAccount.get(row.accountId) ?? [];
      if (list.length === 0) byAccount.set(row.accountId, list);
      list.push(row);
    }
    const pages = new Map<string, OperationsPage>();
    for (const accountId of accountIds) pages.set(accountId, toPage(byAccount.get(accountId) ?? [], pageSize));
    return pages;
  }

  private async readRanges(ranges: [string, { fromUs: string; toUs: string }][]): Promise<OperationRecord[]> {
    const params: Record<string, unknown> = {};
    const conditions = ranges.map(([accountId, range], i) => {
      Object.assign(params, { [`a${i}`]: accountId, [`f${i}`]: range.fromUs, [`t${i}`]: range.toUs });
      return `(account_id = {a${i}:UUID} AND created_at BETWEEN fromUnixTimestamp64Micro({f${i}:Int64}, 'UTC') AND fromUnixTimestamp64Micro({t${i}:Int64}, 'UTC'))`;
    });
    const result = await this.client.query({
      query: `SELECT ${OPERATION_COLUMNS}
        FROM ${this.table} FINAL
        WHERE ${conditions.join(' OR ')}
        ORDER BY account_id, created_at DESC, event_id DESC`,
      query_params: params,
      format: 'JSONEachRow',
    });
    return result.json<OperationRecord>();
  }

  /** Totals of posted money per (UTC period, currency) over [from, to), duplicates collapsed by FINAL; holds are not money in or out. */
  async summarize(query: SummaryQuery): Promise<SummaryAggregate[]> {
    this.assertReady();
    return withStoreSpan(this.target, 'SELECT', 'account_summary', async (span) => {
      const aggregates = await this.aggregate(query);
      span.setAttribute('db.response.returned_rows', aggregates.length);
      return aggregates;
    });
  }

  private async aggregate(query: SummaryQuery): Promise<SummaryAggregate[]> {
    const period =
      query.granularity === 'day'
        ? `toUnixTimestamp(toStartOfDay(created_at, 'UTC'))`
        : `toUnixTimestamp(toDateTime(toStartOfMonth(created_at, 'UTC'), 'UTC'))`;
    const result = await this.client.query({
      query: `SELECT
          toString(${period}) AS periodS,
          toString(currency) AS currencyCode,
          toString(sumIf(toInt128(amount_minor), type IN {inTypes:Array(String)})) AS totalIn,
          toString(sumIf(toInt128(amount_minor), type IN {outTypes:Array(String)})) AS totalOut,
          toString(countIf(type IN {inTypes:Array(String)})) AS countIn,
          toString(countIf(type IN {outTypes:Array(String)})) AS countOut
        FROM ${this.table} FINAL
        WHERE account_id = {account:UUID}
          AND created_at >= fromUnixTimestamp64Micro({from:Int64}, 'UTC')
          AND created_at < fromUnixTimestamp64Micro({to:Int64}, 'UTC')
          AND type IN {postedTypes:Array(String)}
        GROUP BY periodS, currencyCode
        ORDER BY periodS`,
      query_params: {
        account: query.accountId,
        from: (BigInt(query.fromMs) * 1000n).toString(),
        to: (BigInt(query.toMs) * 1000n).toString(),
        inTypes: POSTED_IN_TYPES,
        outTypes: POSTED_OUT_TYPES,
        postedTypes: [...POSTED_IN_TYPES, ...POSTED_OUT_TYPES],
      },
      format: 'JSONEachRow',
    });
    const rows = await result.json<{ periodS: string; currencyCode: string; totalIn: string; totalOut: string; countIn: string; countOut: string }>();
    return rows.map((r) => ({
      periodStartMs: Number(r.periodS) * 1000,
      currency: r.currencyCode,
      totalInMinor: BigInt(r.totalIn),
      totalOutMinor: BigInt(r.totalOut),
      countIn: BigInt(r.countIn),
      countOut: BigInt(r.countOut),
    }));
  }

  /**
   * Net posted money (in − out) per account up to `upToMicros` inclusive, duplicates collapsed by
   * FINAL: the history side of the ledger cross-check (ADR 0021). Accounts without rows are absent.
   */
  async postedNets(accountIds: readonly string[], upToMicros: bigint): Promise<Map<string, bigint>> {
    this.assertReady();
    if (accountIds.length === 0) return new Map();
    return withStoreSpan(this.target, 'SELECT', 'posted_nets', async (span) => {
      span.setAttribute('db.operation.batch.size', accountIds.length);
      const result = await this.client.query({
        query: `SELECT toString(account_id) AS accountId,
            toString(sumIf(toInt128(amount_minor), type IN {inTypes:Array(String)}) - sumIf(toInt128(amount_minor), type IN {outTypes:Array(String)})) AS netMinor
          FROM ${this.table} FINAL
          WHERE account_id IN {accounts:Array(UUID)}
            AND created_at <= fromUnixTimestamp64Micro({upTo:Int64}, 'UTC')
            AND type IN {postedTypes:Array(String)}
          GROUP BY account_id`,
        query_params: {
          accounts: accountIds,
          upTo: upToMicros.toString(),
          inTypes: POSTED_IN_TYPES,
          outTypes: POSTED_OUT_TYPES,
          postedTypes: [...POSTED_IN_TYPES, ...POSTED_OUT_TYPES],
        },
        format: 'JSONEachRow',
      });
      const rows = await result.json<{ accountId: string; netMinor: string }>();
      return new Map(rows.map((r) => [r.accountId, BigInt(r.netMinor)]));
    });
  }

  /**
   * Where the engine's memory goes (bytes by kind: tracked total, merges, primary keys)
   * and the table's active parts, for /metrics. Names are ClickHouse's own metric names.
   */
  async memoryStats(): Promise<Record<string, number>> {
    const result = await this.client.query({
      // chDB has system.metrics but no system.asynchronous_metrics (cache sizes, jemalloc).
      query: `SELECT metric, toFloat64(value) AS value FROM system.metrics
          WHERE metric IN ('MemoryTracking', 'MergesMutationsMemoryTracking')
        UNION ALL SELECT 'PrimaryKeyBytesInMemory', toFloat64(sum(primary_key_bytes_in_memory)) FROM system.parts
          WHERE active AND database = {database:String}
        UNION ALL SELECT 'ActiveParts', toFloat64(count()) FROM system.parts
          WHERE active AND database = {database:String}`,
      query_params: { database: this.database },
      format: 'JSONEachRow',
    });
    const rows = await result.json<{ metric: string; value: number }>();
    return Object.fromEntries(rows.map((r) => [r.metric, Number(r.value)]));
  }

  /** Rows stored for an account including not-yet-merged duplicates (tests and diagnostics). */
  async countRawRows(accountId: string): Promise<number> {
    const result = await this.client.query({
      query: `SELECT toString(count()) AS n FROM ${this.table} WHERE account_id = {account:UUID}`,
      query_params: { account: accountId },
      format: 'JSONEachRow',
    });
    const [row] = await result.json<{ n: string }>();
    return Number(row?.n ?? 0);
  }

  async close(): Promise<void> {
    await this.client.close();
  }
}

/** The history columns, aliased as OperationRecord (64-bit values as strings). */
const OPERATION_COLUMNS = `
  toString(event_id) AS eventId,
  toString(account_id) AS accountId,
  toString(type) AS opType,
  toString(toUnixTimestamp64Micro(created_at)) AS createdAtUs,
  toString(amount_minor) AS amountMinor,
  toString(currency) AS currencyCode,
  ifNull(toString(counterparty_account_id), '') AS counterpartyAccountId,
  ifNull(toString(transfer_id), '') AS transferId,
  ifNull(toString(top_up_id), '') AS topUpId,
  description AS descriptionText,
  toString(card_last4) AS cardLast4,
  initiated_by AS initiatedBy,
  ifNull(toString(hold_id), '') AS holdId,
  toString(direction) AS holdDirection,
  ifNull(toString(reversal_id), '') AS reversalId,
  ifNull(toString(original_transfer_id), '') AS originalTransferId,
  toUInt8(forced) AS isForced,
  ifNull(toString(refund_id), '') AS refundId`;

/** Up to pageSize + 1 records, newest first: the page, and its cursor when more rows follow. */
function toPage(records: readonly OperationRecord[], pageSize: number): OperationsPage {
  const operations = records.slice(0, pageSize).map(toStoredOperation);
  const last = operations[operations.length - 1];
  const page: OperationsPage = { operations };
  if (records.length > pageSize && last) page.next = { createdAtMicros: last.createdAtMicros, eventId: last.eventId };
  return page;
}

function toStoredOperation(r: OperationRecord): StoredOperation {
  return {
    eventId: r.eventId,
    accountId: r.accountId,
    type: r.opType,
    createdAtMicros: BigInt(r.createdAtUs),
    amountMinor: BigInt(r.amountMinor),
    currency: r.currencyCode,
    counterpartyAccountId: r.counterpartyAccountId,
    transferId: r.transferId,
    topUpId: r.topUpId,
    description: r.descriptionText,
    cardLast4: r.cardLast4,
    initiatedBy: r.initiatedBy,
    holdId: r.holdId,
    direction: r.holdDirection,
    reversalId: r.reversalId,
    originalTransferId: r.originalTransferId,
    forced: Number(r.isForced) === 1,
    refundId: r.refundId,
  };
}

/** "2025-11-25 16:44:10.123456" (UTC), the DateTime64(6) text form. */
export function formatMicrosForClickHouse(micros: bigint): string {
  const ms = micros / 1000n;
  const iso = new Date(Number(ms)).toISOString();
  const fraction = (micros % 1_000_000n).toString().padStart(6, '0');
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}.${fraction}`;
}
