// Calls to the wallet API on this origin (the gateway serves the app).
// Every call has a deadline; every failure becomes an ApiError whose
// message is the API's own problem+json `detail`.

export const REQUEST_TIMEOUT_MS = 15_000;

export interface FieldError {
  field: string;
  message: string;
}

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  code?: string;
  errors?: FieldError[];
  charged?: boolean;
  declineCode?: string;
}

export class ApiError extends Error {
  constructor(
    /** HTTP status, or 'network' when no answer arrived (the outcome of a write is then unknown). */
    readonly status: number | 'network',
    message: string,
    readonly problem?: Problem,
  ) {
    super(message);
    this.name = 'ApiError';
  }

  /** The field errors of a 400, keyed by the API's field name. */
  fieldErrors(): Record<string, string> {
    const errors: Record<string, string> = {};
    for (const error of this.problem?.errors ?? []) errors[error.field.replace(/^\/?(body\/)?/, '')] ??= error.message;
    return errors;
  }
}

export interface ApiResponse<T> {
  status: number;
  body: T;
  replayed: boolean;
}

export interface RequestOptions {
  body?: unknown;
  idempotencyKey?: string;
  accessToken?: string;
  form?: Record<string, string>;
}

function isProblem(value: unknown): value is Problem {
  return typeof value === 'object' && value !== null && typeof (value as Problem).detail === 'string';
}

/** What to tell a person for an answer that is not a success. */
function messageOf(status: number, body: unknown): string {
  if (isProblem(body)) return body.detail || body.title;
  if (typeof body === 'object' && body !== null && typeof (body as { error_description?: unknown }).error_description === 'string') {
    return (body as { error_description: string }).error_description;
  }
  if (status === 401) return 'Your session has ended. Sign in again.';
  return `The server answered ${status}.`;
}

export async function request<T>(method: string, path: string, options: RequestOptions = {}): Promise<ApiResponse<T>> {
  const headers: Record<string, string> = { accept: 'application/json, application/problem+json' };
  let body: string | undefined;
  if (options.form) {
    headers['content-type'] = 'application/x-www-form-urlencoded';
    body = new URLSearchParams(options.form).toString();
  } else if (options.body !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(options.body);
  }
  if (options.idempotencyKey) headers['idempotency-key'] = options.idempotencyKey;
  if (options.accessToken) headers.authorization = `Bearer ${options.accessToken}`;
  let res: Response;
  try {
    res = await fetch(path, { method, headers, body, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS), credentials: 'same-origin' });
  } catch {
    throw new ApiError('network', 'No answer from the server. Check your connection and try again.');
  }
  const text = await res.text();
  let parsed: unknown = undefined;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = undefined;
  }
  if (!res.ok) {
    const retryAfter = res.headers.get('retry-after');
    const suffix = (res.status === 503 || res.status === 429) && retryAfter ? ` Try again in ${retryAfter} s.` : '';
    throw new ApiError(res.status, `${messageOf(res.status, parsed)}${suffix}`, isProblem(parsed) ? parsed : undefined);
  }
  return { status: res.status, body: parsed as T, replayed: res.headers.get('idempotent-replayed') === 'true' };
}

/** After a write failed with this error, is its outcome unknown (it may have executed)? */
export function outcomeUnknown(error: unknown): boolean {
  return error instanceof ApiError && (error.status === 'network' || error.status === 504 || error.status === 502);
}
