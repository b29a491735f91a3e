// The operator console at /console (roles support and admin).
import { Notice } from '../ui/components';
import { useLocation } from '../ui/router';
import { useMe, useSession } from '../ui/session';
import { Callback, Shell, SignIn } from '../ui/shell';
import { FindAccount } from './find-account';
import { SystemStatePanel } from './system-state';

const NAV = [
  { path: '/console/', label: 'System' },
  { path: '/console/accounts', label: 'Accounts' },
];

export function ConsoleApp() {
  const { path, search } = useLocation();
  const { signedIn } = useSession();
  const { me, error } = useMe();
  const current = NAV.find((n) => n.path === path)?.path ?? '/console/';
  if (path === '/console/callback') {
    return (
      <Shell product="E-Wallet console" nav={NAV} current="">
        <Callback search={search} fallback="/console/" />
      </Shell>
    );
  }
  if (!signedIn) {
    return (
      <Shell product="E-Wallet console" nav={NAV} current="">
        <SignIn intro="The operator console: system state and accounts. For support and admin users." returnTo={path} allowSignUp={false} />
      </Shell>
    );
  }
  const allowed = me?.roles.some((r) => r === 'support' || r === 'admin');
  return (
    <Shell product="E-Wallet console" nav={NAV} current={current} user={me?.username}>
      <h1 class="visually-hidden">{NAV.find((n) => n.path === current)?.label}</h1>
      {error && <Notice kind="error">Could not load who you are: {error}</Notice>}
      {!me && !error && <Notice kind="busy">Loading…</Notice>}
      {me && !allowed && <Notice kind="error">The console is for support and admin users; you are signed in as {me.username}.</Notice>}
      {me && allowed && current === '/console/' && <SystemStatePanel />}
      {me && allowed && current === '/console/accounts' && <FindAccount isAdmin={me.roles.includes('admin')} />}
    </Shell>
  );
}
