// Top up from a card: the outcome as the API reports it (completed, declined
// with its reason, or not known yet and safe to retry with the same key).
import { useRef, useState } from 'preact/hooks';
import { ApiError } from '../lib/api';
import { declinedMessage } from '../lib/declined';
import { checkAmountInput, TOP_UP_RANGE } from '../lib/money';
import { outcomeOfStatus, SubmissionKeys } from '../lib/submission';
import { Card, Field, Money, Notice } from '../ui/components';
import { useSession, type Me } from '../ui/session';

/** The payment gateway mock's test cards (services/payment-gateway-mock/src/domain/test-cards.ts). */
export const TEST_CARDS: readonly { number: string; label: string }[] = [
  { number: '4242 4242 4242 4242', label: 'Visa: always succeeds' },
  { number: '5555 5555 5555 4444', label: 'Mastercard: always succeeds' },
  { number: '4000 0000 0000 0002', label: 'Visa: declined (generic_decline)' },
  { number: '4000 0000 0000 9995', label: 'Visa: declined (insufficient_funds)' },
  { number: '4000 0000 0000 0119', label: 'Visa: processing error, nothing charged' },
];

interface TopUp {
  id: string;
  amount: string;
  currency: string;
  cardLast4: string;
}

type Errors = Partial<Record<'account' | 'amount' | 'number' | 'expiry' | 'cvc' | 'holder' | 'form', string>>;
type Result =
  | { kind: 'idle' }
  | { kind: 'busy' }
  | { kind: 'done'; topUp: TopUp; replayed: boolean }
  | { kind: 'declined'; message: string }
  | { kind: 'unknown'; message: string };

function fieldErrorsOf(error: ApiError): Errors {
  const errors: Errors = {};
  for (const [field, message] of Object.entries(error.fieldErrors())) {
    if (/number/.test(field)) errors.number = message;
    else if (/expiry/.test(field)) errors.expiry = message;
    else if (/cvc/.test(field)) errors.cvc = message;
    else if (/holder/.test(field)) errors.holder = message;
    else if (/amount/.test(field)) errors.amount = message;
    else errors.form = message;
  }
  const type = error.problem?.type ?? '';
  if (Object.keys(errors).length === 0) {
    if (/invalid-card-number/.test(type)) errors.number = error.message;
    else if (/card-expired/.test(type)) errors.expiry = error.message;
    else if (/invalid-cvc/.test(type)) errors.cvc = error.message;
    else if (/amount/.test(type)) errors.amount = error.message;
    else errors.form = error.message;
  }
  return errors;
}

export function TopUpForm({ me, onDone }: { me: Me; onDone: () => void }) {
  const { call } = useSession();
  const keys = useRef(new SubmissionKeys());
  const inFlight = useRef(false);
  const year = new Date().getUTCFullYear();
  const [account, setAccount] = useState(me.accounts[0]?.accountId ?? '');
  const [amount, setAmount] = useState('');
  const [number, setNumber] = useState('');
  const [month, setMonth] = useState('12');
  const [expiryYear, setExpiryYear] = useState(String(year + 3));
  const [cvc, setCvc] = useState('');
  const [holder, setHolder] = useState('');
  const [errors, setErrors] = useState<Errors>({});
  const [result, setResult] = useState<Result>({ kind: 'idle' });

  const submit = async (event: Event) => {
    event.preventDefault();
    if (inFlight.current) return;
    const checked = checkAmountInput(amount, TOP_UP_RANGE);
    const found: Errors = {};
    if (!account) found.account = 'Open an account first.';
    if (!checked.ok) found.amount = checked.message;
    if (!/^[0-9]( ?[0-9]){11,18}$/.test(number.trim())) found.number = 'Enter the card number: 12 to 19 digits.';
    if (!/^[0-9]{3,4}$/.test(cvc)) found.cvc = 'Enter the 3 or 4 digits on the back of the card.';
    setErrors(found);
    if (Object.keys(found).length > 0 || !checked.ok) return;
    const card = { number: number.trim(), expiryMonth: Number(month), expiryYear: Number(expiryYear), cvc, ...(holder ? { holderName: holder } : {}) };
    const body = { amount: checked.amount, card };
    const key = keys.current.keyFor(JSON.stringify([account, body]));
    inFlight.current = true;
    setResult({ kind: 'busy' });
    try {
      const res = await call<TopUp>('POST', `/accounts/${account}/topup`, { body, idempotencyKey: key });
      keys.current.settle('final');
      setResult({ kind: 'done', topUp: res.body, replayed: res.replayed });
      setCvc('');
      onDone();
    } catch (error) {
      const apiError = error instanceof ApiError ? error : new ApiError('network', (error as Error).message);
      const outcome = outcomeOfStatus(apiError.status);
      keys.current.settle(outcome);
      if (apiError.status === 402) {
        setResult({ kind: 'declined', message: declinedMessage(apiError) });
      } else if (outcome === 'retry-same-key') {
        setResult({ kind: 'unknown', message: `${apiError.message} Trying again with the same details is safe: the card is never charged twice.` });
      } else {
        setResult({ kind: 'idle' });
        setErrors(fieldErrorsOf(apiError));
      }
    } finally {
      inFlight.current = false;
    }
  };

  return (
    <Card title="Top up with a card">
      <form onSubmit={submit} noValidate data-testid="topup-form">
        <Field id="topup-account" label="Account" error={errors.account}>
          {(aria) => (
            <select {...aria} value={account} onChange={(e) => setAccount(e.currentTarget.value)}>
              {me.accounts.map((a) => (
                <option key={a.accountId} value={a.accountId}>
                  {a.accountId} ({a.currency})
                </option>
              ))}
            </select>
          )}
        </Field>
        <Field id="topup-amount" label="Amount (USD)" error={errors.amount} hint="From 1.00 to 10,000.00">
          {(aria) => <input {...aria} type="text" inputMode="decimal" autocomplete="off" value={amount} onInput={(e) => setAmount(e.currentTarget.value)} />}
        </Field>
        <Field id="topup-number" label="Card number" error={errors.number}>
          {(aria) => <input {...aria} type="text" inputMode="numeric" autocomplete="cc-number" value={number} onInput={(e) => setNumber(e.currentTarget.value)} />}
        </Field>
        <div class="row">
          <Field id="topup-month" label="Expiry month" error={errors.expiry}>
            {(aria) => (
              <select {...aria} autocomplete="cc-exp-month" value={month} onChange={(e) => setMonth(e.currentTarget.value)}>
                {Array.from({ length: 12 }, (_, i) => String(i + 1)).map((m) => (
                  <option key={m} value={m}>
                    {m.padStart(2, '0')}
                  </option>
                ))}
              </select>
            )}
          </Field>
          <Field id="topup-year" label="Expiry year">
            {(aria) => (
              <select {...aria} autocomplete="cc-exp-year" value={expiryYear} onChange={(e) => setExpiryYear(e.currentTarget.value)}>
                {Array.from({ length: 12 }, (_, i) => String(year - 1 + i)).map((y) => (
                  <option key={y} value={y}>
                    {y}
                  </option>
                ))}
              </select>
            )}
          </Field>
          <Field id="topup-cvc" label="CVC" error={errors.cvc}>
            {(aria) => <input {...aria} type="password" inputMode="numeric" autocomplete="cc-csc" maxLength={4} value={cvc} onInput={(e) => setCvc(e.currentTarget.value)} />}
          </Field>
        </div>
        <Field id="topup-holder" label="Name on the card (optional)" error={errors.holder}>
          {(aria) => <input {...aria} type="text" autocomplete="cc-name" maxLength={100} value={holder} onInput={(e) => setHolder(e.currentTarget.value)} />}
        </Field>
        {errors.form && <Notice kind="error">{errors.form}</Notice>}
        <button type="submit" disabled={result.kind === 'busy'}>
          {result.kind === 'unknown' ? 'Try again' : 'Top up'}
        </button>
      </form>
      <div class="result-slot">
        {result.kind === 'busy' && <Notice kind="busy">Charging the card…</Notice>}
        {result.kind === 'declined' && (
          <Notice kind="error" testId="topup-result">
            {result.message}
          </Notice>
        )}
        {result.kind === 'unknown' && <Notice kind="error">{result.message}</Notice>}
        {result.kind === 'done' && (
          <Notice kind="success" testId="topup-result">
            Topped up <Money amount={result.topUp.amount} currency={result.topUp.currency} /> from the card ending {result.topUp.cardLast4}
            {result.replayed ? ' (already done: this is the first answer again)' : ''}.
          </Notice>
        )}
      </div>
      <details class="test-cards">
        <summary>Test cards</summary>
        <ul>
          {TEST_CARDS.map((c) => (
            <li key={c.number}>
              <button type="button" class="link" onClick={() => setNumber(c.number)}>
                Use {c.number}
              </button>{' '}
              {c.label}
            </li>
          ))}
        </ul>
        <p class="hint">Any CVC, any expiry date in the future.</p>
      </details>
    </Card>
  );
}
