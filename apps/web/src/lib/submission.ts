// One Idempotency-Key per form submission (issue 16): a double click, or a
// retry after a lost answer, sends the same key, so the API executes the
// payment at most once. A changed form is a new submission with a new key.

/** How an attempt ended, as far as the key is concerned. */
export type AttemptOutcome =
  /** The API decided (2xx, or a 4xx about the request): the key is spent. */
  | 'final'
  /** Nothing decided or the outcome is unknown (network error, timeout, 409 in flight, 429, 5xx): retry with the same key. */
  | 'retry-same-key';

export function outcomeOfStatus(status: number | 'network'): AttemptOutcome {
  if (status === 'network') return 'retry-same-key';
  if (status === 409 || status === 429 || status >= 500) return 'retry-same-key';
  return 'final';
}

export class SubmissionKeys {
  private current: { fingerprint: string; key: string } | undefined;

  constructor(private readonly newKey: () => string = () => crypto.randomUUID()) {}

  /** The key for a submission of these form values: the pending one while it is the same submission. */
  keyFor(fingerprint: string): string {
    if (this.current?.fingerprint === fingerprint) return this.current.key;
    this.current = { fingerprint, key: this.newKey() };
    return this.current.key;
  }

  /** After an attempt: a final answer frees the form for a new submission (a new key next time). */
  settle(outcome: AttemptOutcome): void {
    if (outcome === 'final') this.current = undefined;
  }
}
