// Page frame shared by the app and the console: header, navigation, sign-in
// and sign-out, and the callback page of the PKCE redirect.
import type { ComponentChildren } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { Notice } from './components';
import { linkHandler, navigate } from './router';
import { useSession } from './session';

export function Shell(props: { product: string; nav: { path: string; label: string }[]; current: string; user?: string | undefined; children: ComponentChildren }) {
  const { session, signedIn } = useSession();
  const [signingOut, setSigningOut] = useState(false);
  return (
    <>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <span class="brand">{props.product}</span>
        {signedIn && (
          <nav aria-label="Main">
            <ul>
              {props.nav.map((item) => (
                <li key={item.path}>
                  <a href={item.path} onClick={linkHandler(item.path)} aria-current={props.current === item.path ? 'page' : undefined}>
                    {item.label}
                  </a>
                </li>
              ))}
            </ul>
          </nav>
        )}
        {signedIn && (
          <div class="user">
            {props.user && <span data-testid="signed-in-user">{props.user}</span>}
            <button
              type="button"
              class="secondary"
              disabled={signingOut}
              onClick={async () => {
                setSigningOut(true);
                await session.signOut();
                setSigningOut(false);
              }}
            >
              Sign out
            </button>
          </div>
        )}
      </header>
      <main id="main">{props.children}</main>
    </>
  );
}

export function SignIn({ intro, returnTo, allowSignUp }: { intro: string; returnTo: string; allowSignUp: boolean }) {
  const { session } = useSession();
  const [leaving, setLeaving] = useState(false);
  const go = (prompt?: 'create') => {
    setLeaving(true);
    void session.startSignIn(returnTo, prompt);
  };
  return (
    <section class="card sign-in" aria-labelledby="sign-in-title">
      <h1 id="sign-in-title">Welcome</h1>
      <p>{intro}</p>
      <div class="actions">
        <button type="button" onClick={() => go()} disabled={leaving}>
          Sign in
        </button>
        {allowSignUp && (
          <button type="button" class="secondary" onClick={() => go('create')} disabled={leaving}>
            Create an account
          </button>
        )}
      </div>
      {leaving && <Notice kind="busy">Opening the sign-in page…</Notice>}
    </section>
  );
}

/** <base>/callback: finishes the sign-in, then goes where the user was. */
export function Callback({ search, fallback }: { search: string; fallback: string }) {
  const { session } = useSession();
  const [error, setError] = useState<string>();
  useEffect(() => {
    session.completeSignIn(search).then(
      (returnTo) => navigate(returnTo || fallback, { replace: true }),
      (e: Error) => setError(e.message),
    );
    // Once: the code is single use.
  }, []);
  return (
    <section class="card">
      {error ? (
        <Notice kind="error">
          {error}{' '}
          <a href={fallback} onClick={linkHandler(fallback)}>
            Back
          </a>
        </Notice>
      ) : (
        <Notice kind="busy">Signing you in…</Notice>
      )}
    </section>
  );
}
