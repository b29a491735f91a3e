// Small accessible building blocks: every input has a label, every error is
// tied to its field (aria-describedby) and announced, every wait is visible.
import type { ComponentChildren, JSX } from 'preact';
import { displayAmount } from '../lib/money';

export function Field(props: {
  id: string;
  label: string;
  error?: string | undefined;
  hint?: string;
  children: (aria: { id: string; 'aria-invalid': boolean; 'aria-describedby'?: string }) => JSX.Element;
}) {
  const described = [props.hint ? `${props.id}-hint` : '', props.error ? `${props.id}-error` : ''].filter(Boolean).join(' ');
  return (
    <div class="field">
      <label for={props.id}>{props.label}</label>
      {props.children({ id: props.id, 'aria-invalid': Boolean(props.error), ...(described ? { 'aria-describedby': described } : {}) })}
      {props.hint && (
        <p class="hint" id={`${props.id}-hint`}>
          {props.hint}
        </p>
      )}
      {props.error && (
        <p class="field-error" id={`${props.id}-error`}>
          {props.error}
        </p>
      )}
    </div>
  );
}

/** A wait, a success or a failure, announced to screen readers. */
export function Notice({ kind, children, testId }: { kind: 'info' | 'success' | 'error' | 'busy'; children: ComponentChildren; testId?: string }) {
  return (
    <div class={`notice notice-${kind}`} role={kind === 'error' ? 'alert' : 'status'} data-testid={testId}>
      {kind === 'busy' && <span class="spinner" aria-hidden="true" />}
      {children}
    </div>
  );
}

/** `secondary`: a figure beside the main one (pending, posted), styled lighter and not matched as the balance. */
export function Money({ amount, currency, secondary = false }: { amount: string; currency: string; secondary?: boolean }) {
  return (
    <span class={secondary ? 'money-secondary' : 'money'}>
      {displayAmount(amount)} <span class="currency">{currency}</span>
    </span>
  );
}

export function ShortId({ id }: { id: string }) {
  return (
    <code class="id" title={id}>
      {id}
    </code>
  );
}

export function Card({ title, children, headingId }: { title: string; children: ComponentChildren; headingId?: string }) {
  const id = headingId ?? `h-${title.toLowerCase().replace(/[^a-z0-9]+/g, '-')}`;
  return (
    <section class="card" aria-labelledby={id}>
      <h2 id={id}>{title}</h2>
      {children}
    </section>
  );
}
