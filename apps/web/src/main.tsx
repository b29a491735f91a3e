// One bundle, two products: /app (customers) and /console (operators), each
// with its own session (tokens in memory) and PKCE redirect URI.
import { render } from 'preact';
import { ConsoleApp } from './console/console-app';
import { AuthSession } from './lib/auth';
import { SessionProvider } from './ui/session';
import { WalletApp } from './wallet/wallet-app';
import './styles.css';

const isConsole = location.pathname === '/console' || location.pathname.startsWith('/console/');
const session = new AuthSession(isConsole ? '/console' : '/app');
document.title = isConsole ? 'E-Wallet console' : 'E-Wallet';

const root = document.getElementById('root');
if (root) {
  render(<SessionProvider session={session}>{isConsole ? <ConsoleApp /> : <WalletApp />}</SessionProvider>, root);
}
