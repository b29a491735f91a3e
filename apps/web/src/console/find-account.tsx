// Find an account by id or by owner; its balance and history (top-ups are
// the history filtered by type). Admins may open an account for a user.
import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError } from '../lib/api';
import { outcomeOfStatus, SubmissionKeys } from '../lib/submission';
import { Card, Field, Money, Notice, ShortId } from '../ui/components';
import { useSession } from '../ui/session';
import { History } from '../wallet/history';
import { AccountLimits } from './limits';

const UUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

interface OwnerAccount {
  accountId: string;
  ownerId?: string;
  currency?: string;
  balance?: string;
}

interface OwnerAccounts {
  owner: { userId: string; username: string; roles: string[] };
  accounts: OwnerAccount[];
}

export function FindAccount({ isAdmin }: { isAdmin: boolean }) {
  const { call } = useSession();
  const [query, setQuery] = useState('');
  const [selected, setSelected] = useState<string>();
  const [owned, setOwned] = useState<OwnerAccounts>();
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);

  const find = async (event: Event) => {
    event.preventDefault();
    const text = query.trim();
    setError(undefined);
    setOwned(undefined);
    setSelected(undefined);
    if (!text) return setError('Enter an account id or an owner’s username.');
    if (UUID.test(text)) return setSelected(text.toLowerCase());
    setBusy(true);
    try {
      const res = await call<OwnerAccounts>('GET', `/admin/accounts?${new URLSearchParams({ owner: text })}`);
      setOwned(res.body);
      if (res.body.accounts.length === 1) setSelected(res.body.accounts[0]!.accountId);
    } catch (e) {
      setError((e as Error).message);
    } finally {
      setBusy(false);
    }
  };

  return (
    <Card title="Find an account">
      <form onSubmit={find} class="inline-form" role="search">
        <Field id="find-query" label="Account id or owner" error={error}>
          {(aria) => <input {...aria} type="search" autocomplete="off" spellcheck={false} value={query} onInput={(e) => setQuery(e.currentTarget.value)} />}
        </Field>
        <button type="submit" disabled={busy}>
          Find
        </button>
      </form>
      {busy && <Notice kind="busy">Searching…</Notice>}
      {owned && (
        <p data-testid="owner">
          Owner {owned.owner.username} ({owned.owner.roles.join(', ')}), user id <ShortId id={owned.owner.userId} />
        </p>
      )}
      {owned && owned.accounts.length === 0 && <Notice kind="info">No account belongs to this owner.</Notice>}
      {owned && owned.accounts.length > 1 && (
        <ul class="accounts">
          {owned.accounts.map((a) => (
            <li key={a.accountId}>
              <button type="button" class="link" onClick={() => setSelected(a.accountId)}>
                <ShortId id={a.accountId} />
              </button>{' '}
              {a.balance && a.currency && <Money amount={a.balance} currency={a.currency} />}
            </li>
          ))}
        </ul>
      )}
      {selected && <AccountDetail accountId={selected} isAdmin={isAdmin} />}
      {isAdmin && <OpenAccountFor />}
    </Card>
  );
}

function AccountDetail({ accountId, isAdmin }: { accountId: string; isAdmin: boolean }) {
  const { call } = useSession();
  const [balance, setBalance] = useState<{ balance: string; currency: string; pending?: string; posted?: string }>();
  const [error, setError] = useState<string>();
  useEffect(() => {
    let live = true;
    setBalance(undefined);
    setError(undefined);
    call<{ balance: string; currency: string; pending?: string; posted?: string }>('GET', `/accounts/${accountId}/balance`).then(
      (res) => live && setBalance(res.body),
      (e: Error) => live && setError(e instanceof ApiError && e.status === 404 ? 'No such account.' : e.message),
    );
    return () => {
      live = false;
    };
  }, [call, accountId]);
  return (
    <div class="account-detail" data-testid="account-detail">
      <p>
        Account <ShortId id={accountId} />
      </p>
      {error && <Notice kind="error">{error}</Notice>}
      {!balance && !error && <Notice kind="busy">Loading the balance…</Notice>}
      {balance && (
        <p class="balance">
          Available <Money amount={balance.balance} currency={balance.currency} />
          {balance.posted !== undefined && (
            <>
              {' '}
              · posted <Money amount={balance.posted} currency={balance.currency} secondary />
            </>
          )}
          {balance.pending !== undefined && (
            <>
              {' '}
              · pending <Money amount={balance.pending} currency={balance.currency} secondary />
            </>
          )}
        </p>
      )}
      {!error && <AccountLimits accountId={accountId} isAdmin={isAdmin} />}
      {!error && <History accountId={accountId} version={0} title="History and top-ups" />}
    </div>
  );
}

function OpenAccountFor() {
  const { call } = useSession();
  const keys = useRef(new SubmissionKeys());
  const [owner, setOwner] = useState('');
  const [result, setResult] = useState<{ kind: 'idle' | 'busy' } | { kind: 'done'; id: string } | { kind: 'error'; message: string }>({ kind: 'idle' });
  const submit = async (event: Event) => {
    event.preventDefault();
    if (result.kind === 'busy') return;
    if (!owner.trim()) return setResult({ kind: 'error', message: 'Enter the owner’s user id.' });
    setResult({ kind: 'busy' });
    const key = keys.current.keyFor(owner.trim());
    try {
      const res = await call<{ accountId: string }>('POST', '/accounts', { body: { currency: 'USD', ownerId: owner.trim() }, idempotencyKey: key });
      keys.current.settle('final');
      setResult({ kind: 'done', id: res.body.accountId });
    } catch (e) {
      keys.current.settle(outcomeOfStatus(e instanceof ApiError ? e.status : 'network'));
      setResult({ kind: 'error', message: (e as Error).message });
    }
  };
  return (
    <form onSubmit={submit} class="inline-form">
      <h3>Open an account for a user (admin)</h3>
      <Field id="open-owner" label="Owner user id">
        {(aria) => <input {...aria} type="text" autocomplete="off" value={owner} onInput={(e) => setOwner(e.currentTarget.value)} />}
      </Field>
      <button type="submit" disabled={result.kind === 'busy'}>
        Open a USD account
      </button>
      {result.kind === 'busy' && <Notice kind="busy">Opening…</Notice>}
      {result.kind === 'done' && (
        <Notice kind="success">
          Opened <ShortId id={result.id} />
        </Notice>
      )}
      {result.kind === 'error' && <Notice kind="error">{result.message}</Notice>}
    </form>
  );
}
