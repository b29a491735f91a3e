// The customer app at /app.
import { useState } from 'preact/hooks';
import { Card, Notice } from '../ui/components';
import { useLocation } from '../ui/router';
import { useMe, useSession, type Me } from '../ui/session';
import { Callback, Shell, SignIn } from '../ui/shell';
import { Accounts } from './accounts';
import { History } from './history';
import { MonthlyChart } from './monthly-chart';
import { rememberRecipient, SendMoney } from './send-money';
import { TopUpForm } from './top-up';

const NAV = [
  { path: '/app/', label: 'Accounts' },
  { path: '/app/send', label: 'Send' },
  { path: '/app/topup', label: 'Top up' },
  { path: '/app/history', label: 'History' },
];

/** Support reads and never moves money (the API answers 403 anyway). */
function mayMoveMoney(me: Me): boolean {
  return me.roles.some((role) => role === 'customer' || role === 'admin');
}

export function WalletApp() {
  const { path, search } = useLocation();
  const { signedIn } = useSession();
  const { me, error, reload } = useMe();
  const [recent, setRecent] = useState<string[]>([]);
  const [version, setVersion] = useState(0);
  const [historyAccount, setHistoryAccount] = useState<string>();
  const current = NAV.find((n) => n.path === path)?.path ?? '/app/';

  if (path === '/app/callback') {
    return (
      <Shell product="E-Wallet" nav={NAV} current="">
        <Callback search={search} fallback="/app/" />
      </Shell>
    );
  }
  if (!signedIn) {
    return (
      <Shell product="E-Wallet" nav={NAV} current="">
        <SignIn intro="Your wallet: balances, payments, top-ups and history." returnTo={path} allowSignUp />
      </Shell>
    );
  }
  const changed = () => {
    setVersion((v) => v + 1);
    reload();
  };
  const account = historyAccount ?? me?.accounts[0]?.accountId;
  return (
    <Shell product="E-Wallet" nav={NAV} current={current} user={me?.username}>
      <h1 class="visually-hidden">{NAV.find((n) => n.path === current)?.label}</h1>
      {error && <Notice kind="error">Could not load your accounts: {error}</Notice>}
      {!me && !error && <Notice kind="busy">Loading your accounts…</Notice>}
      {me && current === '/app/' && <Accounts me={me} onOpened={changed} />}
      {me && !mayMoveMoney(me) && (current === '/app/send' || current === '/app/topup') && (
        <Notice kind="info" testId="role-notice">
          You are signed in as {me.username} ({me.roles.join(', ')}): your role may read accounts but not move money.
        </Notice>
      )}
      {me && mayMoveMoney(me) && current === '/app/send' && <SendMoney me={me} recent={recent} onSent={(id) => (setRecent(rememberRecipient(recent, id)), changed())} />}
      {me && mayMoveMoney(me) && current === '/app/topup' && <TopUpForm me={me} onDone={changed} />}
      {me && current === '/app/history' && (
        <Card title="History">
          {me.accounts.length === 0 && <p>Open an account first.</p>}
          {me.accounts.length > 1 && (
            <div class="field">
              <label for="history-account">Account</label>
              <select id="history-account" value={account} onChange={(e) => setHistoryAccount(e.currentTarget.value)}>
                {me.accounts.map((a) => (
                  <option key={a.accountId} value={a.accountId}>
                    {a.accountId}
                  </option>
                ))}
              </select>
            </div>
          )}
          {account && <MonthlyChart accountId={account} version={version} />}
          {account && <History accountId={account} version={version} title="Operations" />}
        </Card>
      )}
    </Shell>
  );
}
