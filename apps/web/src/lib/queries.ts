// Query strings of the history and summary reads (pure, unit-tested).

export const PAGE_SIZE = 20;

export type OperationType = 'transfer_in' | 'transfer_out' | 'topup';

export interface Filters {
  type: '' | OperationType;
  /** yyyy-mm-dd (UTC), inclusive. */
  from: string;
  /** yyyy-mm-dd (UTC), inclusive (sent as the next day's midnight, exclusive). */
  to: string;
}

/** The operations query for a page. */
export function operationsQuery(filters: Filters, cursor: string | undefined): string {
  const query = new URLSearchParams({ limit: String(PAGE_SIZE) });
  if (filters.type) query.set('type', filters.type);
  if (filters.from) query.set('from', `${filters.from}T00:00:00Z`);
  if (filters.to) {
    const end = new Date(`${filters.to}T00:00:00Z`);
    end.setUTCDate(end.getUTCDate() + 1);
    query.set('to', end.toISOString());
  }
  if (cursor) query.set('cursor', cursor);
  return query.toString();
}

/** First instant of the month `offset` months from now (UTC). */
export function monthStart(now: Date, offset: number): Date {
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + offset, 1));
}
