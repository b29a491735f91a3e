// Accounts with their balances; open a new account.
import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError } from '../lib/api';
import { outcomeOfStatus, SubmissionKeys } from '../lib/submission';
import { Card, Money, Notice, ShortId } from '../ui/components';
import { useSession, type Me } from '../ui/session';

interface Balance {
  accountId: string;
  /** = available (what can be spent now, before any overdraft). */
  balance: string;
  currency: string;
  updatedAt: string;
  /** Issue 15: the parts of the balance (absent from an older gateway). */
  available?: string;
  pending?: string;
  posted?: string;
}

const ZERO = /^-?0(\.0+)?$/;

/** Pending holds and the posted ledger balance, shown only when they differ from what is available. */
function BalanceParts({ balance }: { balance: Balance }) {
  const { pending, posted, currency } = balance;
  const showPending = pending !== undefined && !ZERO.test(pending);
  const showPosted = posted !== undefined && posted !== (balance.available ?? balance.balance);
  if (!showPending && !showPosted) return null;
  return (
    <span class="balance-parts">
      {showPending && (
        <span>
          <span class="label">Pending</span> <Money amount={pending} currency={currency} secondary />
        </span>
      )}
      {showPosted && (
        <span>
          <span class="label">Posted</span> <Money amount={posted} currency={currency} secondary />
        </span>
      )}
    </span>
  );
}

type BalanceState = { kind: 'loading' } | { kind: 'ok'; balance: Balance } | { kind: 'error'; message: string };

export function Accounts({ me, onOpened }: { me: Me; onOpened: () => void }) {
  const { call } = useSession();
  const [balances, setBalances] = useState<Record<string, BalanceState>>({});
  useEffect(() => {
    let live = true;
    for (const { accountId } of me.accounts) {
      setBalances((b) => ({ ...b, [accountId]: { kind: 'loading' } }));
      call<Balance>('GET', `/accounts/${accountId}/balance`).then(
        (res) => live && setBalances((b) => ({ ...b, [accountId]: { kind: 'ok', balance: res.body } })),
        (e: Error) => live && setBalances((b) => ({ ...b, [accountId]: { kind: 'error', message: e.message } })),
      );
    }
    return () => {
      live = false;
    };
  }, [call, me]);

  return (
    <Card title="Your accounts">
      {me.accounts.length === 0 && <p>You have no account yet. Open one to receive and send money.</p>}
      <ul class="accounts" data-testid="accounts">
        {me.accounts.map(({ accountId, currency }) => {
          const state = balances[accountId] ?? { kind: 'loading' };
          return (
            <li class="account" key={accountId} data-account-id={accountId}>
              <span class="label">Account</span> <ShortId id={accountId} />
              <p class="balance" aria-live="polite">
                {state.kind === 'loading' && <span class="skeleton">Loading balance…</span>}
                {state.kind === 'ok' && (
                  <>
                    <span class="label">Available</span> <Money amount={state.balance.available ?? state.balance.balance} currency={state.balance.currency} />
                    <BalanceParts balance={state.balance} />
                  </>
                )}
                {state.kind === 'error' && <span class="error-text">Balance unavailable: {state.message}</span>}
                {state.kind !== 'ok' && <span class="currency"> {currency}</span>}
              </p>
            </li>
          );
        })}
      </ul>
      <OpenAccount onOpened={onOpened} />
    </Card>
  );
}

function OpenAccount({ onOpened }: { onOpened: () => void }) {
  const { call } = useSession();
  const keys = useRef(new SubmissionKeys());
  const busy = useRef(false);
  const [state, setState] = useState<{ kind: 'idle' } | { kind: 'busy' } | { kind: 'done'; id: string } | { kind: 'error'; message: string }>({ kind: 'idle' });
  const open = async () => {
    if (busy.current) return;
    busy.current = true;
    setState({ kind: 'busy' });
    const key = keys.current.keyFor('open-usd-account');
    try {
      const res = await call<{ accountId: string }>('POST', '/accounts', { body: { currency: 'USD' }, idempotencyKey: key });
      keys.current.settle('final');
      setState({ kind: 'done', id: res.body.accountId });
      onOpened();
    } catch (error) {
      keys.current.settle(outcomeOfStatus(error instanceof ApiError ? error.status : 'network'));
      setState({ kind: 'error', message: (error as Error).message });
    } finally {
      busy.current = false;
    }
  };
  return (
    <div class="open-account">
      <button type="button" onClick={open} disabled={state.kind === 'busy'}>
        Open a USD account
      </button>
      {state.kind === 'busy' && <Notice kind="busy">Opening the account…</Notice>}
      {state.kind === 'done' && (
        <Notice kind="success">
          Account opened: <ShortId id={state.id} />
        </Notice>
      )}
      {state.kind === 'error' && <Notice kind="error">Could not open the account: {state.message}</Notice>}
    </div>
  );
}
