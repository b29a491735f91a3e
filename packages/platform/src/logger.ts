import { pino, type Logger, type LoggerOptions } from 'pino';

export type { Logger } from 'pino';

/**
 * Paths never written to logs. Card data, secrets and tokens are censored
 * wherever they appear in a logged object.
 */
export const REDACTED_PATHS = [
  'card.number',
  'card.cvc',
  '*.card.number',
  '*.card.cvc',
  'number',
  'cvc',
  'password',
  '*.password',
  'token',
  '*.token',
  'authorization',
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
  'databaseUrl',
  'DATABASE_URL',
];

/** JSON logger, one line per event, secrets censored. */
export function createLogger(service: string, level = 'info', options: LoggerOptions = {}): Logger {
  return pino({
    level,
    base: { service },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    formatters: { level: (label) => ({ level: label }) },
    ...options,
  });
}

/** Masks a card number (or any secret digits) to its last four: "************4242". */
export function maskLast4(value: string): string {
  const digits = value.replace(/\D/g, '');
  return digits.length <= 4 ? '****' : `${'*'.repeat(digits.length - 4)}${digits.slice(-4)}`;
}

/** Hides the password of a connection URL before it is logged. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '****';
    return parsed.toString();
  } catch {
    return '[unparseable url]';
  }
}
