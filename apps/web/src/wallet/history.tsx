// Operation history: keyset pages (nextCursor) loaded as the list scrolls into
// view (and by a button, for keyboards), filtered by type and dates.
import { useEffect, useRef, useState } from 'preact/hooks';
import { operationsQuery, type Filters, type OperationType } from '../lib/queries';
import { Field, Money, Notice, ShortId } from '../ui/components';
import { useSession, type Call } from '../ui/session';

/** Bound on what one page view keeps (50 pages). */
const ITEMS_MAX = 1_000;

export interface Operation {
  id: string;
  type: OperationType;
  amount: string;
  currency: string;
  counterpartyAccountId?: string;
  description?: string;
  cardLast4?: string;
  createdAt: string;
}

const TYPE_LABELS: Record<Operation['type'], string> = { transfer_in: 'Received', transfer_out: 'Sent', topup: 'Top-up' };

type ListState = { items: Operation[]; cursor: string | null | undefined; loading: boolean; error: string | undefined };

function usePages(call: Call, accountId: string, filters: Filters, version: number) {
  const [state, setState] = useState<ListState>({ items: [], cursor: undefined, loading: false, error: undefined });
  const generation = useRef(0);
  const load = async (reset: boolean) => {
    const mine = reset ? ++generation.current : generation.current;
    const cursor = reset ? undefined : state.cursor;
    if (!reset && (state.loading || cursor === null || state.items.length >= ITEMS_MAX)) return;
    setState((s) => ({ ...(reset ? { items: [], cursor: undefined } : s), loading: true, error: undefined }));
    try {
      const res = await call<{ items: Operation[]; nextCursor: string | null }>('GET', `/accounts/${accountId}/operations?${operationsQuery(filters, cursor ?? undefined)}`);
      if (mine !== generation.current) return;
      setState((s) => ({ items: [...(reset ? [] : s.items), ...res.body.items], cursor: res.body.nextCursor, loading: false, error: undefined }));
    } catch (error) {
      if (mine !== generation.current) return;
      setState((s) => ({ ...s, loading: false, error: (error as Error).message }));
    }
  };
  useEffect(() => {
    void load(true);
  }, [accountId, filters.type, filters.from, filters.to, version]);
  return { state, loadMore: () => load(false) };
}

export function History({ accountId, version, title = 'History' }: { accountId: string; version: number; title?: string }) {
  const { call } = useSession();
  const [filters, setFilters] = useState<Filters>({ type: '', from: '', to: '' });
  const { state, loadMore } = usePages(call, accountId, filters, version);
  const sentinel = useRef<HTMLDivElement>(null);
  const more = state.cursor !== null && state.items.length < ITEMS_MAX;
  useEffect(() => {
    const node = sentinel.current;
    if (!node || !more) return;
    const observer = new IntersectionObserver((entries) => entries.some((e) => e.isIntersecting) && void loadMore(), { rootMargin: '200px' });
    observer.observe(node);
    return () => observer.disconnect();
  });
  const idBase = `history-${accountId.slice(0, 8)}`;
  return (
    <div class="history" data-testid="history">
      <h3>{title}</h3>
      <form class="filters" onSubmit={(e) => e.preventDefault()}>
        <Field id={`${idBase}-type`} label="Type">
          {(aria) => (
            <select {...aria} value={filters.type} onChange={(e) => setFilters({ ...filters, type: e.currentTarget.value as Filters['type'] })}>
              <option value="">All</option>
              <option value="transfer_in">Received</option>
              <option value="transfer_out">Sent</option>
              <option value="topup">Top-ups</option>
            </select>
          )}
        </Field>
        <Field id={`${idBase}-from`} label="From (UTC)">
          {(aria) => <input {...aria} type="date" value={filters.from} onChange={(e) => setFilters({ ...filters, from: e.currentTarget.value })} />}
        </Field>
        <Field id={`${idBase}-to`} label="To (UTC)">
          {(aria) => <input {...aria} type="date" value={filters.to} onChange={(e) => setFilters({ ...filters, to: e.currentTarget.value })} />}
        </Field>
      </form>
      <ol class="operations" aria-busy={state.loading}>
        {state.items.map((op) => (
          <li key={op.id} class={`operation op-${op.type}`} data-operation-type={op.type}>
            <span class="op-type">{TYPE_LABELS[op.type]}</span>
            <span class="op-amount">
              {op.type === 'transfer_out' ? '−' : '+'}
              <Money amount={op.amount} currency={op.currency} />
            </span>
            <span class="op-detail">
              {op.counterpartyAccountId && (
                <>
                  {op.type === 'transfer_in' ? 'from ' : 'to '}
                  <ShortId id={op.counterpartyAccountId} />
                </>
              )}
              {op.cardLast4 && <>card ending {op.cardLast4}</>}
              {op.description && <span class="op-description"> · {op.description}</span>}
            </span>
            <time dateTime={op.createdAt}>{new Date(op.createdAt).toLocaleString('en', { timeZone: 'UTC', dateStyle: 'medium', timeStyle: 'short' })} UTC</time>
          </li>
        ))}
      </ol>
      {state.loading && <Notice kind="busy">Loading operations…</Notice>}
      {state.error && <Notice kind="error">Could not load the history: {state.error}</Notice>}
      {!state.loading && !state.error && state.items.length === 0 && <p>No operations{filters.type || filters.from || filters.to ? ' match these filters' : ' yet'}.</p>}
      {more && !state.loading && (
        <button type="button" class="secondary" onClick={() => void loadMore()}>
          Load more
        </button>
      )}
      {!more && state.items.length > 0 && <p class="hint">{state.cursor === null ? 'That is all.' : `Showing the first ${ITEMS_MAX}: narrow the dates to see older ones.`}</p>}
      <div ref={sentinel} class="sentinel" aria-hidden="true" />
    </div>
  );
}
