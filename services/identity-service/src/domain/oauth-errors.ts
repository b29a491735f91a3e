// RFC 6749 section 5.2 error codes of the token endpoint and their HTTP status.

export const OAUTH_ERROR_STATUS = {
  invalid_request: 400,
  invalid_client: 401,
  invalid_grant: 400,
  unauthorized_client: 400,
  unsupported_grant_type: 400,
  invalid_scope: 400,
} as const;

export type OAuthErrorCode = keyof typeof OAUTH_ERROR_STATUS;

/** A token-endpoint refusal; description is for the caller and never holds a secret. */
export class OAuthError extends Error {
  override name = 'OAuthError';
  constructor(
    readonly code: OAuthErrorCode,
    description: string,
  ) {
    super(description);
  }

  get status(): number {
    return OAUTH_ERROR_STATUS[this.code];
  }
}

/** The username is locked after too many failed logins (429 + Retry-After). */
export class LoginLockedError extends Error {
  override name = 'LoginLockedError';
  constructor(readonly retryAfterSeconds: number) {
    super('too many failed logins for this username; try again later');
  }
}

/** The password hasher is saturated (503 + Retry-After). */
export class OverloadedError extends Error {
  override name = 'OverloadedError';
  constructor(readonly retryAfterSeconds = 1) {
    super('the service is busy; retry later');
  }
}

export class UsernameTakenError extends Error {
  override name = 'UsernameTakenError';
  constructor() {
    super('the username is already taken');
  }
}
