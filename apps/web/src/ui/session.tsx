// The session and an API caller bound to it, shared by every screen.
import { createContext, type ComponentChildren } from 'preact';
import { useContext, useEffect, useMemo, useState } from 'preact/hooks';
import { ApiError, request, type ApiResponse, type RequestOptions } from '../lib/api';
import type { AuthSession } from '../lib/auth';

export interface Me {
  userId: string;
  username: string;
  roles: ('customer' | 'support' | 'admin')[];
  accounts: { accountId: string; currency: string }[];
}

export type Call = <T>(method: string, path: string, options?: Omit<RequestOptions, 'accessToken'>) => Promise<ApiResponse<T>>;

interface SessionValue {
  session: AuthSession;
  signedIn: boolean;
  call: Call;
}

const SessionContext = createContext<SessionValue | undefined>(undefined);

export function SessionProvider({ session, children }: { session: AuthSession; children: ComponentChildren }) {
  const [signedIn, setSignedIn] = useState(session.signedIn);
  useEffect(() => session.onChange(setSignedIn), [session]);
  const call = useMemo<Call>(
    () =>
      async function call<T>(method: string, path: string, options: Omit<RequestOptions, 'accessToken'> = {}) {
        const attempt = async () => request<T>(method, path, { ...options, accessToken: await session.accessToken() });
        try {
          return await attempt();
        } catch (error) {
          // An access token refused early (clock skew, key rotation): refresh once and ask again.
          if (!(error instanceof ApiError) || error.status !== 401 || !session.signedIn) throw error;
          await session.refresh();
          return attempt();
        }
      },
    [session],
  );
  return <SessionContext.Provider value={{ session, signedIn, call }}>{children}</SessionContext.Provider>;
}

export function useSession(): SessionValue {
  const value = useContext(SessionContext);
  if (!value) throw new Error('useSession outside SessionProvider');
  return value;
}

/** GET /me once per sign-in, with a reload handle. */
export function useMe(): { me: Me | undefined; error: string | undefined; reload: () => void } {
  const { call, signedIn } = useSession();
  const [me, setMe] = useState<Me>();
  const [error, setError] = useState<string>();
  const [version, setVersion] = useState(0);
  useEffect(() => {
    if (!signedIn) return;
    let live = true;
    call<Me>('GET', '/me').then(
      (res) => live && (setMe(res.body), setError(undefined)),
      (e: Error) => live && setError(e.message),
    );
    return () => {
      live = false;
    };
  }, [call, signedIn, version]);
  return { me, error, reload: () => setVersion((v) => v + 1) };
}
