// An account's limits (issue 15): overdraft, daily and monthly spending limits
// with what is spent and left in the current window, in the account's time
// zone. Admins change them here; support only reads.
import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError } from '../lib/api';
import { checkAmountInput, displayAmount, type AmountRange } from '../lib/money';
import { Field, Notice } from '../ui/components';
import { useSession } from '../ui/session';

export interface Limits {
  accountId: string;
  currency: string;
  overdraftLimit: string;
  dailyLimit: string | null;
  monthlyLimit: string | null;
  dailyLimitMax: string | null;
  monthlyLimitMax: string | null;
  timeZone: string;
  dailySpent?: string;
  monthlySpent?: string;
  dailyRemaining?: string | null;
  monthlyRemaining?: string | null;
}

const EDITABLE = ['overdraftLimit', 'dailyLimitMax', 'monthlyLimitMax', 'dailyLimit', 'monthlyLimit'] as const;
type Editable = (typeof EDITABLE)[number];
const LABELS: Record<Editable, string> = {
  overdraftLimit: 'Overdraft limit',
  dailyLimitMax: 'Daily limit maximum',
  monthlyLimitMax: 'Monthly limit maximum',
  dailyLimit: 'Daily spending limit',
  monthlyLimit: 'Monthly spending limit',
};

/** Any amount the Money schema allows; 0 is a valid limit (nothing may be spent). */
const LIMIT_RANGE: AmountRange = { minMinor: 0n, maxMinor: 999_999_999_999_999n };

const shown = (amount: string | null | undefined, currency: string) => (amount === null || amount === undefined ? 'none' : `${displayAmount(amount)} ${currency}`);

export function AccountLimits({ accountId, isAdmin }: { accountId: string; isAdmin: boolean }) {
  const { call } = useSession();
  const [limits, setLimits] = useState<Limits>();
  const [error, setError] = useState<string>();
  useEffect(() => {
    let live = true;
    setLimits(undefined);
    setError(undefined);
    call<Limits>('GET', `/accounts/${accountId}/limits`).then(
      (res) => live && setLimits(res.body),
      (e: Error) => live && setError(e.message),
    );
    return () => {
      live = false;
    };
  }, [call, accountId]);
  return (
    <section class="limits" data-testid="limits" aria-labelledby={`limits-${accountId}`}>
      <h3 id={`limits-${accountId}`}>Limits</h3>
      {error && <Notice kind="error">Limits unavailable: {error}</Notice>}
      {!limits && !error && <Notice kind="busy">Loading the limits…</Notice>}
      {limits && (
        <dl>
          <dt>Overdraft</dt>
          <dd>{shown(limits.overdraftLimit, limits.currency)}</dd>
          <dt>Daily limit</dt>
          <dd>
            {shown(limits.dailyLimit, limits.currency)} (spent {shown(limits.dailySpent ?? '0.00', limits.currency)}, maximum {shown(limits.dailyLimitMax, limits.currency)})
          </dd>
          <dt>Monthly limit</dt>
          <dd>
            {shown(limits.monthlyLimit, limits.currency)} (spent {shown(limits.monthlySpent ?? '0.00', limits.currency)}, maximum {shown(limits.monthlyLimitMax, limits.currency)})
          </dd>
          <dt>Time zone</dt>
          <dd>{limits.timeZone}</dd>
        </dl>
      )}
      {limits && isAdmin && <EditLimits limits={limits} onSaved={setLimits} />}
    </section>
  );
}

/** Admin form: an empty field clears that limit (no limit); every value is a decimal string, never a float. */
function EditLimits({ limits, onSaved }: { limits: Limits; onSaved: (limits: Limits) => void }) {
  const { call } = useSession();
  const busy = useRef(false);
  const [values, setValues] = useState<Record<Editable, string>>(() =>
    Object.fromEntries(EDITABLE.map((name) => [name, limits[name] ?? ''])) as Record<Editable, string>,
  );
  const [fieldErrors, setFieldErrors] = useState<Partial<Record<Editable, string>>>({});
  const [state, setState] = useState<{ kind: 'idle' | 'busy' | 'saved' } | { kind: 'error'; message: string }>({ kind: 'idle' });

  const submit = async (event: Event) => {
    event.preventDefault();
    if (busy.current) return;
    const body: Record<string, string | null> = {};
    const errors: Partial<Record<Editable, string>> = {};
    for (const name of EDITABLE) {
      const text = values[name].trim();
      // Only what the admin changed is sent (absent = unchanged).
      if (text === (limits[name] ?? '')) continue;
      if (text === '') {
        // The overdraft is a number (0 = none); the others are cleared.
        body[name] = name === 'overdraftLimit' ? '0.00' : null;
        continue;
      }
      const checked = checkAmountInput(text, LIMIT_RANGE);
      if (checked.ok) body[name] = checked.amount;
      else errors[name] = checked.message;
    }
    setFieldErrors(errors);
    if (Object.keys(errors).length > 0) return;
    if (Object.keys(body).length === 0) return setState({ kind: 'saved' });
    busy.current = true;
    setState({ kind: 'busy' });
    try {
      const res = await call<Limits>('PUT', `/accounts/${limits.accountId}/limits`, { body });
      onSaved(res.body);
      setState({ kind: 'saved' });
    } catch (e) {
      const message = e instanceof ApiError ? e.message : (e as Error).message;
      if (e instanceof ApiError) setFieldErrors(e.fieldErrors() as Partial<Record<Editable, string>>);
      setState({ kind: 'error', message });
    } finally {
      busy.current = false;
    }
  };

  return (
    <form onSubmit={submit} class="inline-form" data-testid="limits-form">
      <h4>Change the limits (admin)</h4>
      {EDITABLE.map((name) => (
        <Field key={name} id={`limit-${name}`} label={`${LABELS[name]} (${limits.currency})`} error={fieldErrors[name]} hint={name === 'overdraftLimit' ? 'Empty or 0: no overdraft.' : 'Empty: no limit.'}>
          {(aria) => (
            <input {...aria} type="text" inputMode="decimal" autocomplete="off" value={values[name]} onInput={(e) => setValues((v) => ({ ...v, [name]: e.currentTarget.value }))} />
          )}
        </Field>
      ))}
      <button type="submit" disabled={state.kind === 'busy'}>
        Save limits
      </button>
      {state.kind === 'busy' && <Notice kind="busy">Saving…</Notice>}
      {state.kind === 'saved' && <Notice kind="success" testId="limits-saved">Limits saved.</Notice>}
      {state.kind === 'error' && <Notice kind="error">{state.message}</Notice>}
    </form>
  );
}
