// Account, transfer and top-up ids are UUIDs. Any 8-4-4-4-12 hex form is
// accepted (the plan's seed account 987e6543-e21b-34d3-c456-... is not an
// RFC 9562 variant), and normalised to lower case, as PostgreSQL prints them.
const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isUuid(value: string): boolean {
  return UUID_PATTERN.test(value);
}

export function normalizeUuid(value: string): string {
  return value.toLowerCase();
}

/** The system settlement account: other side of deposits and opening balances. */
export const SETTLEMENT_ACCOUNT_ID = '00000000-0000-0000-0000-000000000001';

/** Internal accounts: never a transfer party, never visible through the API. */
export const SYSTEM_ACCOUNT_IDS: ReadonlySet<string> = new Set([SETTLEMENT_ACCOUNT_ID]);

export function isSystemAccountId(normalizedId: string): boolean {
  return SYSTEM_ACCOUNT_IDS.has(normalizedId);
}

/** Length in characters (code points), as PostgreSQL's char_length counts them. */
export function charLength(value: string): number {
  let count = 0;
  for (const _ of value) count += 1;
  return count;
}
