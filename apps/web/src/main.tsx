// One bundle, two products: /app (customers) and /console (operators), each
// with its own session (tokens in memory) and PKCE redirect URI.
import { render } from 'preact';
import { ConsoleApp } from './console/console-app';
import { AuthSession } from './lib/auth';
import { Notice } from './ui/components';
import { SessionProvider } from './ui/session';
import { WalletApp } from './wallet/wallet-app';
import './styles.css';

const isConsole = location.pathname === '/console' || location.pathname.startsWith('/console/');
const session = new AuthSession(isConsole ? '/console' : '/app');
document.title = isConsole ? 'E-Wallet console' : 'E-Wallet';

const base = isConsole ? '/console' : '/app';
// A reload forgets the tokens (memory only): one silent sign-in at the identity provider brings them back while its session lives.
const leaving = location.pathname !== `${base}/callback` && session.resumeOnLoad(location.pathname);

const root = document.getElementById('root');
if (root) {
  render(
    leaving ? (
      <main id="main">
        <Notice kind="busy">Signing you in…</Notice>
      </main>
    ) : (
      <SessionProvider session={session}>{isConsole ? <ConsoleApp /> : <WalletApp />}</SessionProvider>
    ),
    root,
  );
}
