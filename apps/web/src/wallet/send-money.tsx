// Send money: one Idempotency-Key per submission (kept across retries of the
// same details), answers and problem+json details shown next to their field.
import { useRef, useState } from 'preact/hooks';
import { ApiError, outcomeUnknown } from '../lib/api';
import { checkAmountInput, TRANSFER_RANGE } from '../lib/money';
import { outcomeOfStatus, SubmissionKeys } from '../lib/submission';
import { Card, Field, Money, Notice, ShortId } from '../ui/components';
import { useSession, type Me } from '../ui/session';

const UUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
const DESCRIPTION_LENGTH_MAX = 140;
const RECENT_RECIPIENTS_MAX = 10;

interface Transfer {
  id: string;
  recipientAccountId: string;
  amount: string;
  currency: string;
}

type Errors = Partial<Record<'from' | 'recipient' | 'amount' | 'description' | 'form', string>>;
type Result = { kind: 'idle' } | { kind: 'busy' } | { kind: 'done'; transfer: Transfer; replayed: boolean } | { kind: 'unknown'; message: string };

/** Which field a refusal concerns (problem type or 400 field name). */
export function fieldOfProblem(error: ApiError): keyof Errors {
  const type = error.problem?.type ?? '';
  if (/insufficient-funds|amount-out-of-range/.test(type)) return 'amount';
  if (/same-account/.test(type)) return 'recipient';
  if (error.status === 404) return 'recipient';
  return 'form';
}

function fieldErrorsOf(error: ApiError): Errors {
  const byApiField = error.fieldErrors();
  const errors: Errors = {};
  for (const [field, message] of Object.entries(byApiField)) {
    if (/recipient/i.test(field)) errors.recipient = message;
    else if (/amount/i.test(field)) errors.amount = message;
    else if (/description/i.test(field)) errors.description = message;
    else errors.form = message;
  }
  if (Object.keys(errors).length === 0) errors[fieldOfProblem(error)] = error.message;
  return errors;
}

export function SendMoney({ me, recent, onSent }: { me: Me; recent: string[]; onSent: (recipient: string) => void }) {
  const { call } = useSession();
  const keys = useRef(new SubmissionKeys());
  const inFlight = useRef(false);
  const [from, setFrom] = useState(me.accounts[0]?.accountId ?? '');
  const [recipient, setRecipient] = useState('');
  const [amount, setAmount] = useState('');
  const [description, setDescription] = useState('');
  const [errors, setErrors] = useState<Errors>({});
  const [result, setResult] = useState<Result>({ kind: 'idle' });

  const submit = async (event: Event) => {
    event.preventDefault();
    // A second click while the first is in flight does nothing (and would carry the same key anyway).
    if (inFlight.current) return;
    const checked = checkAmountInput(amount, TRANSFER_RANGE);
    const found: Errors = {};
    if (!from) found.from = 'Choose the account to pay from.';
    if (!UUID.test(recipient.trim())) found.recipient = 'Enter the recipient’s account id (a UUID like 987e6543-e21b-34d3-c456-426614174999).';
    if (!checked.ok) found.amount = checked.message;
    if ([...description].length > DESCRIPTION_LENGTH_MAX) found.description = `At most ${DESCRIPTION_LENGTH_MAX} characters.`;
    setErrors(found);
    if (Object.keys(found).length > 0 || !checked.ok) return;
    const body = { recipientAccountId: recipient.trim(), amount: checked.amount, ...(description ? { description } : {}) };
    const key = keys.current.keyFor(JSON.stringify([from, body]));
    inFlight.current = true;
    setResult({ kind: 'busy' });
    try {
      const res = await call<Transfer>('POST', `/accounts/${from}/transfers`, { body, idempotencyKey: key });
      keys.current.settle('final');
      setResult({ kind: 'done', transfer: res.body, replayed: res.replayed });
      setAmount('');
      setDescription('');
      onSent(body.recipientAccountId);
    } catch (error) {
      const apiError = error instanceof ApiError ? error : new ApiError('network', (error as Error).message);
      keys.current.settle(outcomeOfStatus(apiError.status));
      if (outcomeUnknown(apiError) || outcomeOfStatus(apiError.status) === 'retry-same-key') {
        setResult({ kind: 'unknown', message: `${apiError.message} Sending again with the same details is safe: it cannot pay twice.` });
      } else {
        setResult({ kind: 'idle' });
        setErrors(fieldErrorsOf(apiError));
      }
    } finally {
      inFlight.current = false;
    }
  };

  return (
    <Card title="Send money">
      <form onSubmit={submit} noValidate data-testid="send-form">
        <Field id="send-from" label="From account" error={errors.from}>
          {(aria) => (
            <select {...aria} value={from} onChange={(e) => setFrom(e.currentTarget.value)}>
              {me.accounts.map((a) => (
                <option key={a.accountId} value={a.accountId}>
                  {a.accountId} ({a.currency})
                </option>
              ))}
            </select>
          )}
        </Field>
        <Field id="send-recipient" label="Recipient account id" error={errors.recipient} hint="Paste the account id, or pick a recent one.">
          {(aria) => (
            <input {...aria} type="text" list="recent-recipients" autocomplete="off" spellcheck={false} value={recipient} onInput={(e) => setRecipient(e.currentTarget.value)} />
          )}
        </Field>
        <datalist id="recent-recipients">
          {recent.map((id) => (
            <option key={id} value={id} />
          ))}
        </datalist>
        <Field id="send-amount" label="Amount (USD)" error={errors.amount} hint="For example 10.50">
          {(aria) => <input {...aria} type="text" inputMode="decimal" autocomplete="off" value={amount} onInput={(e) => setAmount(e.currentTarget.value)} />}
        </Field>
        <Field id="send-description" label="Description (optional)" error={errors.description}>
          {(aria) => <input {...aria} type="text" maxLength={DESCRIPTION_LENGTH_MAX} value={description} onInput={(e) => setDescription(e.currentTarget.value)} />}
        </Field>
        {errors.form && <Notice kind="error">{errors.form}</Notice>}
        <button type="submit" disabled={result.kind === 'busy'}>
          {result.kind === 'unknown' ? 'Send again' : 'Send'}
        </button>
      </form>
      <div class="result-slot">
        {result.kind === 'busy' && <Notice kind="busy">Sending…</Notice>}
        {result.kind === 'unknown' && <Notice kind="error">{result.message}</Notice>}
        {result.kind === 'done' && (
          <Notice kind="success" testId="send-result">
            Sent <Money amount={result.transfer.amount} currency={result.transfer.currency} /> to <ShortId id={result.transfer.recipientAccountId} />
            {result.replayed ? ' (already sent: this is the first answer again)' : ''}. Transfer <ShortId id={result.transfer.id} />.
          </Notice>
        )}
      </div>
    </Card>
  );
}

export function rememberRecipient(recent: string[], id: string): string[] {
  return [id, ...recent.filter((r) => r !== id)].slice(0, RECENT_RECIPIENTS_MAX);
}
